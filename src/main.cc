#include "brig/cli/app.h"

int main(int argc, char** argv) { return brig::cli::main(argc, argv); }
