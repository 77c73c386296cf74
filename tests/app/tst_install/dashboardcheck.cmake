# Installs the build into a scratch prefix and checks the dashboard's desktop integration landed there.
# cmake -DBUILD_DIR=<build> -DPREFIX=<scratch> -P dashboardcheck.cmake
file(REMOVE_RECURSE "${PREFIX}")
execute_process(COMMAND "${CMAKE_COMMAND}" --install "${BUILD_DIR}" --prefix "${PREFIX}"
    RESULT_VARIABLE rc OUTPUT_QUIET)
if(NOT rc EQUAL 0)
    message(FATAL_ERROR "cmake --install failed: ${rc}")
endif()

set(desktop "${PREFIX}/share/applications/herald-dashboard.desktop")
set(icon "${PREFIX}/share/icons/hicolor/scalable/apps/herald.svg")
# The Help menu opens the README and the protocol reference from share/doc/herald-dashboard.
set(docs "${PREFIX}/share/doc/herald-dashboard")
foreach(f "${PREFIX}/bin/herald-dashboard" "${desktop}" "${icon}" "${docs}/README.md" "${docs}/protocol.md")
    if(NOT EXISTS "${f}")
        message(FATAL_ERROR "not installed: ${f}")
    endif()
endforeach()

# The desktop entry must start the installed program and name the installed icon.
file(STRINGS "${desktop}" lines)
foreach(expected "[Desktop Entry]" "Type=Application" "Exec=herald-dashboard" "Icon=herald" "Name=Herald Dashboard")
    list(FIND lines "${expected}" found)
    if(found EQUAL -1)
        message(FATAL_ERROR "${desktop}: no line '${expected}'")
    endif()
endforeach()
file(READ "${icon}" svg)
if(NOT svg MATCHES "<svg[^>]*viewBox=")
    message(FATAL_ERROR "${icon} is not a scalable SVG")
endif()
file(REMOVE_RECURSE "${PREFIX}")
message(STATUS "install check passed")
