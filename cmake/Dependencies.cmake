# All third-party parts come from Debian 12 packages (scripts/install-deps.sh).
find_package(PkgConfig REQUIRED)
find_package(Threads REQUIRED)
find_package(Boost 1.74 REQUIRED)
find_package(SQLite3 REQUIRED)
find_package(tomlplusplus REQUIRED)
find_package(nlohmann_json 3.11 REQUIRED)
find_package(spdlog REQUIRED)
find_package(fmt REQUIRED)
find_package(CLI11 REQUIRED)
find_package(date REQUIRED)
find_package(PahoMqttCpp REQUIRED)
pkg_check_modules(SODIUM REQUIRED IMPORTED_TARGET libsodium)
pkg_check_modules(NFC REQUIRED IMPORTED_TARGET libnfc)
pkg_check_modules(FREEFARE REQUIRED IMPORTED_TARGET libfreefare)
pkg_check_modules(SYSTEMD REQUIRED IMPORTED_TARGET libsystemd)
# labgatectl audit setup shows the verification key as a QR code in the terminal.
pkg_check_modules(QRENCODE REQUIRED IMPORTED_TARGET libqrencode)
# Issued statement bodies are stored compressed (store/statement_body.hpp).
pkg_check_modules(ZSTD REQUIRED IMPORTED_TARGET libzstd)
# The console splits a month's invoice PDF into one file per member.
pkg_check_modules(QPDF REQUIRED IMPORTED_TARGET libqpdf)
if(LABGATE_WITH_GPIOD)
  pkg_check_modules(GPIOD REQUIRED IMPORTED_TARGET libgpiod)
endif()

# Boost 1.74's Asio uses std::exchange without including <utility> under C++20.
add_library(labgate_asio INTERFACE)
target_link_libraries(labgate_asio INTERFACE Boost::headers Threads::Threads)
target_compile_options(labgate_asio INTERFACE -include utility)
target_compile_definitions(labgate_asio INTERFACE BOOST_ASIO_NO_DEPRECATED)
