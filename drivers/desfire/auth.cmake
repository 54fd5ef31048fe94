# Card authentication at the door: AN10922 key diversification, the credential file, and the
# exchange with the card on a reader's thread (native commands, no libfreefare). Kept apart from
# the emulator's DESFire card so the reader side never links the card side.
add_library(labgate_desfire_auth STATIC
  ${CMAKE_CURRENT_LIST_DIR}/src/diversify.cpp
  ${CMAKE_CURRENT_LIST_DIR}/src/site_keys.cpp
  ${CMAKE_CURRENT_LIST_DIR}/src/credential_file.cpp
  ${CMAKE_CURRENT_LIST_DIR}/src/authenticator.cpp
  ${CMAKE_CURRENT_LIST_DIR}/src/issuer.cpp)
target_include_directories(labgate_desfire_auth PUBLIC ${CMAKE_CURRENT_LIST_DIR}/include)
target_link_libraries(labgate_desfire_auth
  PUBLIC labgate_desfire labgate_drivers_nfc labgate_drivers_core
  PRIVATE labgate_warnings OpenSSL::Crypto PkgConfig::NFC)
