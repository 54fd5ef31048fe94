# What the Debian package holds, and how CPack builds it: `cmake --build build --target labgate-deb`
# (or, once those targets are built, `cpack -G DEB` in the build directory) writes
# build/labgate_<version>_<arch>.deb.
include(GNUInstallDirs)

# Man pages from each tool's --help and --version (help2man), gzipped as Debian wants them.
find_program(LABGATE_HELP2MAN help2man REQUIRED)
set(LABGATE_PACKAGED_TOOLS labgated labgatectl labgate-mqtt-sign labgate-sim labgate-console)
set(labgated_summary "access control and machine interlock daemon")
set(labgatectl_summary "labgate staff and manager tool")
set(labgate-mqtt-sign_summary "sign a labgate MQTT command for mosquitto_pub")
set(labgate-sim_summary "talk to labgated's control socket")
set(labgate-console_summary "labgate staff web console")
set(LABGATE_MAN_PAGES)
foreach(tool IN LISTS LABGATE_PACKAGED_TOOLS)
  set(page ${CMAKE_BINARY_DIR}/man/${tool}.1)
  add_custom_command(OUTPUT ${page}.gz
    COMMAND ${CMAKE_COMMAND} -E make_directory ${CMAKE_BINARY_DIR}/man
    COMMAND ${LABGATE_HELP2MAN} --no-info --no-discard-stderr --section=1
            --version-string=${PROJECT_VERSION} "--name=${${tool}_summary}"
            --output=${page} $<TARGET_FILE:${tool}>
    COMMAND gzip -9nf ${page}
    DEPENDS ${tool}
    COMMENT "man page ${tool}.1"
    VERBATIM)
  list(APPEND LABGATE_MAN_PAGES ${page}.gz)
endforeach()
add_custom_target(labgate_man ALL DEPENDS ${LABGATE_MAN_PAGES})

install(TARGETS labgate-mqtt-sign RUNTIME DESTINATION ${CMAKE_INSTALL_BINDIR})
install(FILES ${LABGATE_MAN_PAGES} DESTINATION ${CMAKE_INSTALL_MANDIR}/man1)
install(FILES ${PROJECT_SOURCE_DIR}/config/labgated.service
              ${PROJECT_SOURCE_DIR}/config/labgate-console.service DESTINATION /lib/systemd/system)
install(FILES ${PROJECT_SOURCE_DIR}/config/labgate.reference.toml DESTINATION /etc/labgate)
install(FILES ${PROJECT_SOURCE_DIR}/README.md DESTINATION ${CMAKE_INSTALL_DOCDIR})

# `install` and CPack build only what they install, not the whole tree with its tests and
# benchmarks: the labgate-deb target below names what the package needs.
set(CMAKE_SKIP_INSTALL_ALL_DEPENDENCY ON)

set(CPACK_GENERATOR DEB)
set(CPACK_PACKAGE_NAME labgate)
set(CPACK_PACKAGE_VERSION ${PROJECT_VERSION})
set(CPACK_PACKAGE_DESCRIPTION_SUMMARY
    "access control and machine interlocks for a fab lab and coworking space")
set(CPACK_PACKAGE_DESCRIPTION
    "labgated reads members' NFC cards (libnfc), unlocks doors and powers machines only for \
certified members, records door events and machine use in SQLite for billing, and publishes \
on MQTT. labgatectl is the staff tool; labgate-console the staff web console; \
labgate-mqtt-sign signs MQTT commands.")
set(CPACK_PACKAGE_CONTACT "labgate maintainers <root@localhost>")
set(CPACK_PACKAGING_INSTALL_PREFIX /usr)
set(CPACK_STRIP_FILES ON)
set(CPACK_DEBIAN_FILE_NAME DEB-DEFAULT)
set(CPACK_DEBIAN_PACKAGE_SECTION admin)
set(CPACK_DEBIAN_PACKAGE_SHLIBDEPS ON)
# postinst creates the user with useradd/usermod. Invoices (labgatectl statements invoice, the
# console) are made PDF by weasyprint, with a Japanese font for the Japanese ones.
set(CPACK_DEBIAN_PACKAGE_DEPENDS "passwd, weasyprint, fonts-ipaexfont-gothic | fonts-noto-cjk")
set(CPACK_DEBIAN_PACKAGE_SUGGESTS "mosquitto, libnfc-bin")
set(CPACK_DEBIAN_PACKAGE_CONTROL_EXTRA
    ${PROJECT_SOURCE_DIR}/cmake/debian/postinst ${PROJECT_SOURCE_DIR}/cmake/debian/prerm
    ${PROJECT_SOURCE_DIR}/cmake/debian/postrm ${PROJECT_SOURCE_DIR}/cmake/debian/conffiles)
set(CPACK_DEBIAN_PACKAGE_CONTROL_STRICT_PERMISSION ON)
include(CPack)

add_custom_target(labgate-deb
  COMMAND ${CMAKE_CPACK_COMMAND} -G DEB --config ${CMAKE_BINARY_DIR}/CPackConfig.cmake
  WORKING_DIRECTORY ${CMAKE_BINARY_DIR}
  COMMENT "Debian package"
  VERBATIM USES_TERMINAL)
add_dependencies(labgate-deb ${LABGATE_PACKAGED_TOOLS} labgate_man labgate_console_static)
