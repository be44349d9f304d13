#include "pipeline/prep_main.h"

#include <iostream>

namespace ds2::pipeline {

int prep_main(int argc, char** argv) {
  std::cerr << "prep: under construction\n";
  return 2;
}

}  // namespace ds2::pipeline
