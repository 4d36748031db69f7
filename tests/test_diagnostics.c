/* test_diagnostics.c — golden diagnostics: `ganc check tests/errors/NAME.gan`
 * must print exactly tests/errors/NAME.err on standard error, nothing on
 * standard output, and exit 1. */
#include <criterion/criterion.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "test.h"

Test(diagnostics, golden)
{
  char **files = list_files("tests/errors", ".gan");
  int n = 0;
  for (char **f = files; *f; f++, n++) {
    char args[600], errpath[600];
    snprintf(args, sizeof args, "check %s", *f);
    snprintf(errpath, sizeof errpath, "%.*s.err", (int)(strlen(*f) - 4), *f);
    char *want = slurp(errpath, NULL);
    cr_assert(want, "missing golden file %s", errpath);
    Run r = run_ganc(args, NULL);
    cr_expect_eq(r.status, 1, "%s: exit status %d, want 1", *f, r.status);
    cr_expect_str_empty(r.out, "%s: printed on standard output: %s", *f, r.out);
    cr_expect_str_eq(r.err, want, "%s: diagnostics differ.\n--- got:\n%s--- want:\n%s", *f, r.err, want);
    run_free(&r);
    free(want);
  }
  cr_expect_gt(n, 25, "only %d golden cases", n);
  paths_free(files);
}

/* The example of docs/DESIGN.md §2, to the letter. */
Test(diagnostics, design_example)
{
  Run r = run_ganc("check tests/errors/generator_output.gan", NULL);
  cr_expect(strstr(r.err, "tests/errors/generator_output.gan:12:5: error: generator produces [784] but "
                          "observation is [1, 28, 28]\n") == r.err, "%s", r.err);
  run_free(&r);
}

/* No input may crash the compiler: random bytes, random token soup and
   truncations of every model each end in 0 or 1, never a signal. */
Test(diagnostics, garbage_does_not_crash)
{
  static const char *const words[] = {"model", "m", "{", "}", "[", "]", "(", ")", ",", "=", ";", "latent",
                                      "observation", "generator", "discriminator", "linear", "relu", "2",
                                      "-1", "0.5", "reshape", "flatten", "[]", "#c\n", "\n", "scalar",
                                      "double", "1e999", "99999999999", "leaky_relu", "sigmoid", "tanh"};
  ganc_rng r;
  ganc_rng_seed(&r, 3);
  char buf[4096];
  for (int iter = 0; iter < 60; iter++) {
    size_t n = 0;
    if (iter % 2 == 0) {
      size_t len = ganc_rng_next(&r) % sizeof buf;
      for (; n < len; n++)
        buf[n] = (char)(ganc_rng_next(&r) & 0xff);
    } else {
      int count = (int)(ganc_rng_next(&r) % 200);
      for (int k = 0; k < count; k++) {
        const char *w = words[ganc_rng_next(&r) % (sizeof words / sizeof words[0])];
        size_t l = strlen(w);
        if (n + l + 1 >= sizeof buf)
          break;
        memcpy(buf + n, w, l);
        n += l;
        buf[n++] = ' ';
      }
    }
    char *dir = tmpdir_make(), path[600], args[700];
    snprintf(path, sizeof path, "%s/x.gan", dir);
    FILE *f = fopen(path, "wb");
    fwrite(buf, 1, n, f);
    fclose(f);
    snprintf(args, sizeof args, "check %s", path);
    Run run = run_ganc(args, NULL);
    cr_expect(run.status == 0 || run.status == 1, "iteration %d: exit status %d", iter, run.status);
    run_free(&run);
    tmpdir_remove(dir);
  }
}
