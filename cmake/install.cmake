# SPDX-License-Identifier: MIT
# Installs the headers, both libraries, zigzag.pc and the CMake package
# (find_package(zigzag) gives zigzag::zigzag and zigzag::zigzag_static).
include(CMakePackageConfigHelpers)

install(DIRECTORY ${PROJECT_SOURCE_DIR}/include/ DESTINATION ${CMAKE_INSTALL_INCLUDEDIR})
install(TARGETS zigzag_static zigzag_shared
    EXPORT zigzagTargets
    ARCHIVE DESTINATION ${CMAKE_INSTALL_LIBDIR}
    LIBRARY DESTINATION ${CMAKE_INSTALL_LIBDIR}
    RUNTIME DESTINATION ${CMAKE_INSTALL_BINDIR}
    INCLUDES DESTINATION ${CMAKE_INSTALL_INCLUDEDIR})
install(EXPORT zigzagTargets
    NAMESPACE zigzag::
    DESTINATION ${CMAKE_INSTALL_LIBDIR}/cmake/zigzag)

configure_package_config_file(${PROJECT_SOURCE_DIR}/cmake/zigzagConfig.cmake.in
    ${PROJECT_BINARY_DIR}/zigzagConfig.cmake
    INSTALL_DESTINATION ${CMAKE_INSTALL_LIBDIR}/cmake/zigzag)
write_basic_package_version_file(${PROJECT_BINARY_DIR}/zigzagConfigVersion.cmake
    COMPATIBILITY SameMajorVersion)
install(FILES ${PROJECT_BINARY_DIR}/zigzagConfig.cmake ${PROJECT_BINARY_DIR}/zigzagConfigVersion.cmake
    DESTINATION ${CMAKE_INSTALL_LIBDIR}/cmake/zigzag)

# zigzag.pc finds the prefix from its own directory, however deep the libdir
# (lib, lib64, lib/x86_64-linux-gnu). Directories given as absolute paths
# are written as they are, and that package is not relocatable.
if(IS_ABSOLUTE "${CMAKE_INSTALL_LIBDIR}" OR IS_ABSOLUTE "${CMAKE_INSTALL_INCLUDEDIR}")
    set(ZZ_PC_PREFIX "${CMAKE_INSTALL_PREFIX}")
    set(ZZ_PC_LIBDIR "${CMAKE_INSTALL_FULL_LIBDIR}")
    set(ZZ_PC_INCLUDEDIR "${CMAKE_INSTALL_FULL_INCLUDEDIR}")
else()
    file(RELATIVE_PATH zz_pc_up "/p/${CMAKE_INSTALL_LIBDIR}/pkgconfig" "/p")
    string(REGEX REPLACE "/$" "" zz_pc_up "${zz_pc_up}")
    set(ZZ_PC_PREFIX "\${pcfiledir}/${zz_pc_up}")
    set(ZZ_PC_LIBDIR "\${prefix}/${CMAKE_INSTALL_LIBDIR}")
    set(ZZ_PC_INCLUDEDIR "\${prefix}/${CMAKE_INSTALL_INCLUDEDIR}")
endif()
configure_file(${PROJECT_SOURCE_DIR}/cmake/zigzag.pc.in ${PROJECT_BINARY_DIR}/zigzag.pc @ONLY)
install(FILES ${PROJECT_BINARY_DIR}/zigzag.pc DESTINATION ${CMAKE_INSTALL_LIBDIR}/pkgconfig)
