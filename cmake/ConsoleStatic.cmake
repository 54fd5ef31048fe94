# The staff console's static files, gathered in one folder of the build tree
# (LABGATE_CONSOLE_STATIC_DIR: what `labgate-console --static` serves from a build, and what the
# browser suite gives it): the console's own files (gateway/src/console/static/) and htmx from
# node_modules/, which scripts/install-deps.sh installs with `npm ci` exactly as
# package-lock.json pins it. The package puts htmx beside the console's own files in
# share/labgate/console/static; the console serves it itself, nothing is fetched at run time.
set(LABGATE_CONSOLE_STATIC_DIR ${CMAKE_BINARY_DIR}/console-static)
set(LABGATE_HTMX_DIR ${PROJECT_SOURCE_DIR}/node_modules/htmx.org)
set(LABGATE_UPLOT_DIR ${PROJECT_SOURCE_DIR}/node_modules/uplot)  # the ward report's charts
file(GLOB LABGATE_CONSOLE_OWN_STATIC CONFIGURE_DEPENDS
     ${PROJECT_SOURCE_DIR}/gateway/src/console/static/*)

# htmx is checked by the script rather than listed as a dependency, so that a tree where `npm ci`
# has not run gets a sentence saying what to do instead of Ninja's "missing and no known rule".
# The lockfile is the dependency: node_modules changes only when it does.
add_custom_command(OUTPUT ${LABGATE_CONSOLE_STATIC_DIR}/htmx.min.js
  COMMAND ${CMAKE_COMMAND} -DHTMX=${LABGATE_HTMX_DIR} -DUPLOT=${LABGATE_UPLOT_DIR}
          -DDEST=${LABGATE_CONSOLE_STATIC_DIR}
          "-DOWN=${LABGATE_CONSOLE_OWN_STATIC}" -P ${PROJECT_SOURCE_DIR}/cmake/CopyConsoleStatic.cmake
  DEPENDS ${PROJECT_SOURCE_DIR}/package-lock.json ${PROJECT_SOURCE_DIR}/cmake/CopyConsoleStatic.cmake
          ${LABGATE_CONSOLE_OWN_STATIC}
  COMMENT "console static files: the console's own and htmx from node_modules"
  VERBATIM)
add_custom_target(labgate_console_static ALL DEPENDS ${LABGATE_CONSOLE_STATIC_DIR}/htmx.min.js)

include(GNUInstallDirs)
install(FILES ${LABGATE_CONSOLE_STATIC_DIR}/htmx.min.js ${LABGATE_CONSOLE_STATIC_DIR}/uPlot.iife.min.js
              ${LABGATE_CONSOLE_STATIC_DIR}/uPlot.min.css
        DESTINATION ${CMAKE_INSTALL_DATADIR}/labgate/console/static)
install(FILES ${LABGATE_CONSOLE_STATIC_DIR}/htmx.LICENSE ${LABGATE_CONSOLE_STATIC_DIR}/uPlot.LICENSE
        DESTINATION ${CMAKE_INSTALL_DOCDIR})
