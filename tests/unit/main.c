// SPDX-License-Identifier: GPL-2.0-only
/*
 * Entry point of the userspace unit tests of the header-only tracking logic
 * (include/xct): the tests themselves live in the other files of this
 * directory and register themselves with TEST().
 */
#define CHECK_IMPLEMENTATION
#include "check.h"

int main(int argc, char **argv)
{
	return check_main(argc, argv);
}
