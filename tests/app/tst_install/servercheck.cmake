# Installs the server component into a scratch prefix and checks what the Debian package and a service
# need: the program, the config where the unit reads it, and a unit that runs it as the herald user, hardened.
# cmake -DBUILD_DIR=<build> -DPREFIX=<scratch> -P servercheck.cmake
file(REMOVE_RECURSE "${PREFIX}")
execute_process(COMMAND "${CMAKE_COMMAND}" --install "${BUILD_DIR}" --prefix "${PREFIX}" --component server
    RESULT_VARIABLE rc OUTPUT_QUIET)
if(NOT rc EQUAL 0)
    message(FATAL_ERROR "cmake --install --component server failed: ${rc}")
endif()

set(unit "${PREFIX}/lib/systemd/system/herald-server.service")
foreach(f "${PREFIX}/bin/herald-server" "${PREFIX}/etc/herald/herald.conf" "${unit}"
        "${PREFIX}/share/doc/herald-server/README.md")
    if(NOT EXISTS "${f}")
        message(FATAL_ERROR "not installed: ${f}")
    endif()
endforeach()
if(EXISTS "${PREFIX}/bin/herald-dashboard")
    message(FATAL_ERROR "the server component must not carry the dashboard")
endif()

file(STRINGS "${unit}" lines)
foreach(expected "User=herald" "Group=herald" "StateDirectory=herald" "NoNewPrivileges=yes"
        "ProtectSystem=strict" "ProtectHome=yes" "PrivateTmp=yes" "CapabilityBoundingSet=" "KillSignal=SIGTERM")
    list(FIND lines "${expected}" found)
    if(found EQUAL -1)
        message(FATAL_ERROR "${unit}: no line '${expected}'")
    endif()
endforeach()
# The unit starts the binary this build installs, with the config it installs (paths as configured).
file(STRINGS "${unit}" exec REGEX "^ExecStart=")
if(NOT exec MATCHES "^ExecStart=/[^ ]*/bin/herald-server --config /[^ ]*/herald/herald.conf ")
    message(FATAL_ERROR "${unit}: unexpected ${exec}")
endif()
# The packaged config is the example: every key commented or a default that serves on loopback.
file(STRINGS "${PREFIX}/etc/herald/herald.conf" conf)
foreach(expected "bind = 127.0.0.1" "port = 8000" "data-dir = /var/lib/herald")
    list(FIND conf "${expected}" found)
    if(found EQUAL -1)
        message(FATAL_ERROR "herald.conf: no line '${expected}'")
    endif()
endforeach()
file(REMOVE_RECURSE "${PREFIX}")
message(STATUS "server install check passed")
