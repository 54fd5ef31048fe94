# The staff console's static files in the build tree (LABGATE_CONSOLE_STATIC_DIR, what
# `labgate-console --static` serves from a build) and in the package (share/labgate/console-static).
# htmx comes from node_modules/, installed by scripts/install-deps.sh (`npm ci`) exactly as
# package-lock.json pins it; the console serves it itself, nothing is fetched at run time.
set(LABGATE_CONSOLE_STATIC_DIR ${CMAKE_BINARY_DIR}/console-static)
set(LABGATE_HTMX_DIR ${PROJECT_SOURCE_DIR}/node_modules/htmx.org)

# The copy is checked by a script rather than listed as a dependency, so that a tree where
# `npm ci` has not run gets a sentence saying what to do instead of Ninja's "missing and no known
# rule". The lockfile is the dependency: node_modules changes only when it does.
add_custom_command(OUTPUT ${LABGATE_CONSOLE_STATIC_DIR}/htmx.min.js
  COMMAND ${CMAKE_COMMAND} -DSOURCE=${LABGATE_HTMX_DIR} -DDEST=${LABGATE_CONSOLE_STATIC_DIR}
          -P ${PROJECT_SOURCE_DIR}/cmake/CopyHtmx.cmake
  DEPENDS ${PROJECT_SOURCE_DIR}/package-lock.json ${PROJECT_SOURCE_DIR}/cmake/CopyHtmx.cmake
  COMMENT "console static files: htmx from node_modules"
  VERBATIM)
add_custom_target(labgate_console_static ALL DEPENDS ${LABGATE_CONSOLE_STATIC_DIR}/htmx.min.js)

include(GNUInstallDirs)
install(FILES ${LABGATE_CONSOLE_STATIC_DIR}/htmx.min.js
        DESTINATION ${CMAKE_INSTALL_DATADIR}/labgate/console-static)
install(FILES ${LABGATE_CONSOLE_STATIC_DIR}/htmx.LICENSE DESTINATION ${CMAKE_INSTALL_DOCDIR})
