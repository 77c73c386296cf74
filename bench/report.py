#!/usr/bin/env python3
"""Turn the JSON lines of bench/run-bench.sh into one markdown table (Herald vs nginx+nchan).

usage: bench/report.py results.jsonl

Each fan-out cell shows the median over the rounds that were run. The ratio column is herald/nchan: higher is
better for rates, lower is better for memory, connect time and latency.
"""
import json
import statistics
import sys
from collections import defaultdict


def main(path):
    rows = [json.loads(line) for line in open(path) if line.strip()]
    meta = next((r for r in rows if r.get("test") == "meta"), {})
    by = defaultdict(list)
    for r in rows:
        if r.get("test") == "meta":
            continue
        d = r["r"]
        by[(r["test"], d.get("transport", ""), d.get("subs", 0), r["server"])].append(d)

    def values(test, transport, subs, server, key):
        return [d[key] for d in by.get((test, transport, subs, server), []) if key in d]

    def med(test, transport, subs, server, key):
        v = values(test, transport, subs, server, key)
        return statistics.median(v) if v else None

    def total(test, transport, subs, server, key):
        v = values(test, transport, subs, server, key)
        return sum(v) if v else None

    def num(x, fmt="{:,.0f}"):
        return "—" if x is None else fmt.format(x)

    def ratio(a, b):
        return "—" if a is None or b in (None, 0) else f"{a / b:.2f}"

    def lat(test, t, n, s):
        p50, p99 = med(test, t, n, s, "p50_ms"), med(test, t, n, s, "p99_ms")
        return "—" if p50 is None else f"{p50:.1f} / {p99:.1f}"

    def problems(test, t, n):
        # Summed over rounds: a single lost message or stalled publish must not hide behind a median.
        parts = []
        for s in ("herald", "nchan"):
            got = [total(test, t, n, s, k) for k in ("missing", "failed", "dropped", "publish_stalls")]
            if all(g is None for g in got):
                parts.append("—")
            else:
                parts.append("/".join(str(int(g or 0)) for g in got))
        return " · ".join(parts)

    subs = sorted({k[2] for k in by if k[0] == "fanout"})
    transports = [t for t in ("ws", "sse") if any(k[1] == t for k in by)]
    print()
    print(f"Herald vs nginx+nchan ({meta.get('date', '?')}, {meta.get('cores', '?')} cores, "
          f"kernel {meta.get('kernel', '?')}, nginx {meta.get('nginx', '?')}, nchan {meta.get('nchan', '?')}, "
          f"herald workers: {meta.get('herald_workers') or 'default'}, "
          f"publish window: {meta.get('herald_window') or 'default'}, {meta.get('msgs', '?')} msgs of "
          f"{meta.get('payload', '?')} B, rounds: {meta.get('rounds', '?')})")
    print()
    print("| test | transport | subs | herald | nchan | herald/nchan | herald p50 / p99 ms | nchan p50 / p99 ms "
          "| herald KiB/conn | nchan KiB/conn | herald CPU ms | nchan CPU ms "
          "| missing/failed/dropped/stalls (h · n) |")
    print("|---|---|--:|--:|--:|--:|--:|--:|--:|--:|--:|--:|---|")
    paced_subs = sorted({k[2] for k in by if k[0] == "paced"})
    interval = meta.get("paced_interval_ms", "?")
    for test, label, cells in (("fanout", "fan-out msg/s", subs),
                               ("paced", f"paced msg/s ({interval} ms apart)", paced_subs)):
        for n in cells:
            for t in transports:
                h, c = med(test, t, n, "herald", "rate"), med(test, t, n, "nchan", "rate")
                if h is None and c is None:
                    continue
                kh = med(test, t, n, "herald", "server_kib_per_conn")
                kc = med(test, t, n, "nchan", "server_kib_per_conn")
                ch, cc = med(test, t, n, "herald", "server_cpu_ms"), med(test, t, n, "nchan", "server_cpu_ms")
                print(f"| {label} | {t} | {n:,} | {num(h)} | {num(c)} | **{ratio(h, c)}** "
                      f"| {lat(test, t, n, 'herald')} | {lat(test, t, n, 'nchan')} | {num(kh, '{:.1f}')} "
                      f"| {num(kc, '{:.1f}')} | {num(ch)} | {num(cc)} | {problems(test, t, n)} |")
    for t in transports:
        for n in sorted({k[2] for k in by if k[0] == "idle" and k[1] == t}):
            k = {}
            for s in ("herald", "nchan"):
                ds = by.get(("idle", t, n, s), [])
                k[s] = None
                if ds and ds[0].get("ready"):
                    k[s] = (ds[0]["idle_after_kb"] - ds[0]["idle_before_kb"]) / ds[0]["ready"]
            print(f"| idle RSS KiB/conn (lower is better) | {t} | {n:,} | {num(k['herald'], '{:.2f}')} "
                  f"| {num(k['nchan'], '{:.2f}')} | {ratio(k['herald'], k['nchan'])} | | | | | | "
                  f"| {problems('idle', t, n)} |")
    for t in transports:
        for n in sorted({k[2] for k in by if k[0] == "connect" and k[1] == t}):
            h, c = med("connect", t, n, "herald", "connect_ms"), med("connect", t, n, "nchan", "connect_ms")
            print(f"| connect all, ms (lower is better) | {t} | {n:,} | {num(h)} | {num(c)} | {ratio(h, c)} | | "
                  f"| {num(med('connect', t, n, 'herald', 'server_kib_per_conn'), '{:.1f}')} "
                  f"| {num(med('connect', t, n, 'nchan', 'server_kib_per_conn'), '{:.1f}')} | | "
                  f"| {problems('connect', t, n)} |")
    w = {s: (by.get(("wrk", "", 0, s)) or [None])[0] for s in ("herald", "nchan")}
    if w["herald"] or w["nchan"]:
        rh = w["herald"]["rps"] if w["herald"] else None
        rc = w["nchan"]["rps"] if w["nchan"] else None

        def wl(s):
            return f"{w[s]['p50']} / {w[s]['p99']}" if w[s] else "—"

        def bad(s):
            if not w[s]:
                return "—"
            return f"{w[s]['non2xx']} non-2xx, {w[s].get('timeouts', 0)} timeouts"

        print(f"| REST publish req/s (wrk -c{meta.get('wrk_conns', '?')}, {meta.get('wrk_duration', '?')} s) "
              f"| http | — | {num(rh)} | {num(rc)} | **{ratio(rh, rc)}** | {wl('herald')} | {wl('nchan')} "
              f"| | | | | {bad('herald')} · {bad('nchan')} |")
    # Herald only: the same on a channel it never stores (client:wrk), against the same nchan run.
    e = (by.get(("wrk_ephemeral", "", 0, "herald")) or [None])[0]
    if e:
        rc = w["nchan"]["rps"] if w["nchan"] else None
        bad_e = f"{e['non2xx']} non-2xx, {e.get('timeouts', 0)} timeouts"
        print(f"| REST publish req/s, channel not stored (wrk -c{meta.get('wrk_conns', '?')}) | http | — "
              f"| {num(e['rps'])} | {num(rc)} | **{ratio(e['rps'], rc)}** | {e['p50']} / {e['p99']} "
              f"| {w['nchan']['p50'] + ' / ' + w['nchan']['p99'] if w['nchan'] else '—'} | | | | "
              f"| {bad_e} · — |")
    print()


if __name__ == "__main__":
    if len(sys.argv) != 2:
        sys.exit(__doc__)
    main(sys.argv[1])
