#pragma once

#include <QtGlobal>

#include <optional>

namespace Herald {

// What the kernel knows of a TCP connection's output, for the --write-timeout of streams
// (Worker::sweepStalls).
struct TcpProgress
{
    quint64 bytesAcked = 0; // everything the peer has acknowledged since the connection opened
    quint32 unacked = 0;    // bytes in the kernel's send queue, sent or not, not acknowledged yet
};

// Nothing if the descriptor is not a TCP socket. Its own file: <linux/tcp.h>, which has the counters, cannot
// be included with <netinet/tcp.h>.
std::optional<TcpProgress> tcpProgress(int fd);

} // namespace Herald
