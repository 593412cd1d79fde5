/*
 * Extended attributes for the kernel-client checks (the guest's busybox has no setfattr/getfattr):
 *
 *   xattrhelper set FILE NAME VALUE   setxattr(FILE, NAME, VALUE)
 *   xattrhelper get FILE NAME         prints the value
 *   xattrhelper list FILE             prints the names, one a line
 *
 * Prints "error WHAT ERRNO" and exits 2 on failure. Built with gcc -static on the host.
 */
#include <errno.h>
#include <stdio.h>
#include <string.h>
#include <sys/xattr.h>

static int fail(const char *what) {
  printf("error %s %s\n", what, strerror(errno));
  return 2;
}

int main(int argc, char **argv) {
  static char buf[65536];
  if (argc == 5 && strcmp(argv[1], "set") == 0) {
    if (setxattr(argv[2], argv[3], argv[4], strlen(argv[4]), 0) != 0) return fail("setxattr");
    return 0;
  }
  if (argc == 4 && strcmp(argv[1], "get") == 0) {
    ssize_t n = getxattr(argv[2], argv[3], buf, sizeof buf);
    if (n < 0) return fail("getxattr");
    fwrite(buf, 1, (size_t)n, stdout);
    putchar('\n');
    return 0;
  }
  if (argc == 3 && strcmp(argv[1], "list") == 0) {
    ssize_t n = listxattr(argv[2], buf, sizeof buf);
    if (n < 0) return fail("listxattr");
    for (ssize_t i = 0; i < n; i += (ssize_t)strlen(buf + i) + 1) puts(buf + i);
    return 0;
  }
  fprintf(stderr, "usage: xattrhelper set FILE NAME VALUE | get FILE NAME | list FILE\n");
  return 1;
}
