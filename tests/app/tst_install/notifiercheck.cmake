# Installs the notifier's component into a scratch prefix and checks its desktop integration landed there.
# cmake -DBUILD_DIR=<build> -DPREFIX=<scratch> -P notifiercheck.cmake
file(REMOVE_RECURSE "${PREFIX}")
execute_process(COMMAND "${CMAKE_COMMAND}" --install "${BUILD_DIR}" --prefix "${PREFIX}" --component notifier
    RESULT_VARIABLE rc OUTPUT_QUIET)
if(NOT rc EQUAL 0)
    message(FATAL_ERROR "cmake --install --component notifier failed: ${rc}")
endif()

set(desktop "${PREFIX}/share/applications/herald-notifier.desktop")
# Its own icon name: herald-dashboard's package owns herald.svg, and both packages may be installed.
set(icon "${PREFIX}/share/icons/hicolor/scalable/apps/herald-notifier.svg")
foreach(f "${PREFIX}/bin/herald-notifier" "${desktop}" "${icon}")
    if(NOT EXISTS "${f}")
        message(FATAL_ERROR "not installed: ${f}")
    endif()
endforeach()
if(EXISTS "${PREFIX}/share/icons/hicolor/scalable/apps/herald.svg")
    message(FATAL_ERROR "the notifier installs herald.svg, which herald-dashboard's package owns")
endif()

file(STRINGS "${desktop}" lines)
foreach(expected "[Desktop Entry]" "Type=Application" "Exec=herald-notifier" "Icon=herald-notifier"
        "Name=Herald Notifier")
    list(FIND lines "${expected}" found)
    if(found EQUAL -1)
        message(FATAL_ERROR "${desktop}: no line '${expected}'")
    endif()
endforeach()
file(REMOVE_RECURSE "${PREFIX}")
message(STATUS "install check passed")
