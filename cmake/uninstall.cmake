# uninstall.cmake — removes what `cmake --install` recorded in install_manifest.txt (paths already carry
# DESTDIR), then the folders genmix owns outright (include/genmix, the Python package with any __pycache__).
# Run as: cmake -DMANIFEST=... -DOWNED="dir1;dir2" -P uninstall.cmake
if(NOT EXISTS "${MANIFEST}")
  message(FATAL_ERROR "no ${MANIFEST}: nothing was installed from this build folder")
endif()
file(STRINGS "${MANIFEST}" files)
foreach(f ${files})
  if(EXISTS "${f}" OR IS_SYMLINK "${f}")
    message(STATUS "removing ${f}")
    file(REMOVE "${f}")
  endif()
endforeach()
foreach(d ${OWNED})
  if(IS_DIRECTORY "$ENV{DESTDIR}${d}")
    message(STATUS "removing ${d}/")
    file(REMOVE_RECURSE "$ENV{DESTDIR}${d}")
  endif()
endforeach()
