#include "cli/cli.h"

int main(int argc, char** argv) { return stackbill::RunCli(argc, argv); }
