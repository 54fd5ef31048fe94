# cmake -DSOURCE=<node_modules/htmx.org> -DDEST=<static dir> -P CopyHtmx.cmake
# Copies htmx's minified build and its licence; fails with the fix when npm has not installed it.
foreach(file dist/htmx.min.js LICENSE)
  if(NOT EXISTS ${SOURCE}/${file})
    message(FATAL_ERROR "${SOURCE}/${file} is missing: run ./scripts/install-deps.sh, which "
                        "installs the console's front-end packages with `npm ci`")
  endif()
endforeach()
file(MAKE_DIRECTORY ${DEST})
file(COPY_FILE ${SOURCE}/dist/htmx.min.js ${DEST}/htmx.min.js ONLY_IF_DIFFERENT)
file(COPY_FILE ${SOURCE}/LICENSE ${DEST}/htmx.LICENSE ONLY_IF_DIFFERENT)
