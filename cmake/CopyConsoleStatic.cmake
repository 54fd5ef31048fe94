# cmake -DHTMX=<node_modules/htmx.org> -DUPLOT=<node_modules/uplot> -DDEST=<static dir>
#       -DOWN=<files;...> -P CopyConsoleStatic.cmake
# Gathers the console's static files: its own, htmx's minified build and htmx's licence, uPlot's
# (the ward report's charts) minified build, stylesheet and licence. Fails with the fix when npm
# has not installed them.
foreach(file ${HTMX}/dist/htmx.min.js ${HTMX}/LICENSE ${UPLOT}/dist/uPlot.iife.min.js
             ${UPLOT}/dist/uPlot.min.css ${UPLOT}/LICENSE)
  if(NOT EXISTS ${file})
    message(FATAL_ERROR "${file} is missing: run ./scripts/install-deps.sh, which "
                        "installs the console's front-end packages with `npm ci`")
  endif()
endforeach()
file(MAKE_DIRECTORY ${DEST})
foreach(file IN LISTS OWN)
  get_filename_component(name ${file} NAME)
  file(COPY_FILE ${file} ${DEST}/${name} ONLY_IF_DIFFERENT)
endforeach()
file(COPY_FILE ${HTMX}/dist/htmx.min.js ${DEST}/htmx.min.js ONLY_IF_DIFFERENT)
file(COPY_FILE ${HTMX}/LICENSE ${DEST}/htmx.LICENSE ONLY_IF_DIFFERENT)
file(COPY_FILE ${UPLOT}/dist/uPlot.iife.min.js ${DEST}/uPlot.iife.min.js ONLY_IF_DIFFERENT)
file(COPY_FILE ${UPLOT}/dist/uPlot.min.css ${DEST}/uPlot.min.css ONLY_IF_DIFFERENT)
file(COPY_FILE ${UPLOT}/LICENSE ${DEST}/uPlot.LICENSE ONLY_IF_DIFFERENT)
