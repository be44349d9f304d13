// Compiled into a folder library that has no .cc file of its own (cmake/ds2.cmake).
