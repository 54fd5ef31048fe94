# cmake -DHTMX=<node_modules/htmx.org> -DDEST=<static dir> -DOWN=<files;...> -P CopyConsoleStatic.cmake
# Gathers the console's static files: its own, htmx's minified build and htmx's licence. Fails
# with the fix when npm has not installed htmx.
foreach(file dist/htmx.min.js LICENSE)
  if(NOT EXISTS ${HTMX}/${file})
    message(FATAL_ERROR "${HTMX}/${file} is missing: run ./scripts/install-deps.sh, which "
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
