/* test_kernel_blocks.c — tools/kernel_blocks, the build's splitter of
 * runtime/kernels.inc: what it rejects (exit status 1, the line in the
 * message, no output), and what it makes of a file the old blank-line rules
 * could not split. KERNEL_BLOCKS names the tool (the Makefile sets it;
 * build/tools/kernel_blocks otherwise). */
#include <criterion/criterion.h>

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "test.h"

TestSuite(kernel_blocks, .init = scratch_open, .fini = scratch_close);

static const char *tool(void)
{
  const char *t = getenv("KERNEL_BLOCKS");
  return t && *t ? t : "build/tools/kernel_blocks";
}

static void write_file(const char *path, const char *text)
{
  FILE *f = fopen(path, "wb");
  cr_assert(f, "cannot write %s", path);
  fputs(text, f);
  fclose(f);
}

/* The tool on text as in.inc, writing out (names: --names); its exit
   status and what it said. */
static int split(const char *text, int names, const char *out, char **said)
{
  char in[512], cmd[2048];
  snprintf(in, sizeof in, "%s", scratch_path("in.inc"));
  write_file(in, text);
  remove(out);
  snprintf(cmd, sizeof cmd, "%s %s%s %s", tool(), names ? "--names " : "", in, out);
  return run_shell(cmd, said);
}

Test(kernel_blocks, rejects_what_it_cannot_classify)
{
  static const struct {
    const char *text;
    int line;
    const char *says;
  } bad[] = {
      {"static inline int f(int x)\n{\n  if (x) {\n    x++;\n}\n", 2, "unclosed '{'"},
      {"int a;\n}\n", 2, "unmatched '}'"},
      {"int f(int x)\n{\n  return (x];\n}\n", 3, "']' does not match the '(' of line 3"},
      {"int a;\n\n/* never closed\nint b;\n", 3, "unterminated comment"},
      {"static const char *s = \"open;\n", 1, "missing terminating \" character"},
      {"enum { N = 4 };\nKERNEL int table[N];\n", 2, "KERNEL begins something that is not a function definition"},
      {"KERNEL void f(int n);\n", 1, "KERNEL begins something that is not a function definition"},
      {"static KERNEL void f(void)\n{\n}\n", 1, "KERNEL not at the start of a function definition"},
      {"static inline int f(void)\n{\n  return 0;\n}\n\nstatic inline int f(void)\n{\n  return 1;\n}\n", 6,
       "function 'f' defined twice (first at line 1)"},
      {"int a;\nint b\n", 2, "this item does not end"},
      {"int a; int f(void)\n{\n  return 0;\n}\n", 1, "a function definition not on a line of its own"},
  };
  for (size_t i = 0; i < sizeof bad / sizeof *bad; i++) {
    char *said = NULL, want[600];
    const char *out = scratch_path("out.h");
    int status = split(bad[i].text, 0, out, &said);
    snprintf(want, sizeof want, "%s:%d: error: %s", scratch_path("in.inc"), bad[i].line, bad[i].says);
    cr_expect_eq(status, 1, "case %zu exited %d:\n%s", i, status, said);
    cr_expect(said && strstr(said, want) == said, "case %zu: expected '%s', got:\n%s", i, want, said);
    cr_expect_neq(access(out, F_OK), 0, "case %zu wrote %s", i, out);
    free(said);
  }
}

/* Blank lines inside functions, a signature over two lines, brackets and
   comment openers in literals and comments, escapes and a would-be trigraph
   in the text. */
static const char GOOD[] = "/* Standing apart. */\n"
                           "\n"
                           "#define TWICE(x) ((x) + (x)) /* a macro */\n"
                           "#define PRODUCT(a, b) \\\n"
                           "  ((a) * (b))\n"
                           "typedef struct { int n; } pair;\n"
                           "enum { SIZE = 4 };\n"
                           "\n"
                           "/* helper's comment holds a brace {, a call of scale() and a tab:\t. */\n"
                           "static inline int helper(int x)\n"
                           "{\n"
                           "  const char *s = \"}\\\"/*\"; // a brace and a ( in a comment\n"
                           "  char c = '{';\n"
                           "\n"
                           "  return x + (s[0] == c) + TWICE(1); /* ?\?= */\n"
                           "}\n"
                           "\n"
                           "/* A signature over two lines. */\n"
                           "KERNEL void scale(float *v, int n,\n"
                           "                  float k)\n"
                           "{\n"
                           "  for (int i = 0; i < n; i++)\n"
                           "    v[i] *= k * (float)helper(i);\n"
                           "}\n"
                           "\n"
                           "KERNEL void total(float *out, const float *v, int n)\n"
                           "{\n"
                           "  float t = 0;\n"
                           "\n"
                           "  for (int i = 0; i < n; i++)\n"
                           "    t += v[i];\n"
                           "  *out = t;\n"
                           "  scale(out, 1, 1.0f);\n"
                           "}\n";

/* The tool's table for text, compiled and printed: each block (its name,
   the blocks whose functions it uses, and for a kernel its macro, its start
   and its declaration), then the text put back together. */
static char *show_blocks(const char *text)
{
  const char *blocks = scratch_path("kernel_blocks.h");
  char *said = NULL;
  cr_assert_eq(split(text, 0, blocks, &said), 0, "%s", said);
  free(said);
  write_file(scratch_path("show.c"),
             "#include <stdio.h>\n"
             "#include \"kernel_blocks.h\"\n"
             "int main(void)\n"
             "{\n"
             "  for (int i = 0; i < KERNEL_BLOCK_COUNT; i++) {\n"
             "    const KernelBlock *k = &kernel_blocks[i];\n"
             "    printf(\"%d %s\", i, k->name ? k->name : \"-\");\n"
             "    for (const int *c = k->calls; *c >= 0; c++)\n"
             "      printf(\" %d\", *c);\n"
             "    if (k->kernel)\n"
             "      printf(\" [%.*s] [%.8s] %s\", k->rest - k->macro, k->text + k->macro, k->text + k->rest, k->decl);\n"
             "    printf(\"\\n\");\n"
             "  }\n"
             "  for (int i = 0; i < KERNEL_BLOCK_COUNT; i++)\n"
             "    printf(\"%s%s\", i ? \"\\n\" : \"\", kernel_blocks[i].text);\n"
             "  return 0;\n"
             "}\n");
  char cmd[2048];
  snprintf(cmd, sizeof cmd, "cc -std=c11 -Wall -Werror -I%s -o %s/show %s/show.c && %s/show", scratch_dir, scratch_dir,
           scratch_dir, scratch_dir);
  char *shown = NULL;
  cr_assert_eq(run_shell(cmd, &shown), 0, "%s", shown);
  return shown;
}

Test(kernel_blocks, splits_by_lexing)
{
  char *said = NULL;
  const char *names = scratch_path("names.h");
  cr_assert_eq(split(GOOD, 1, names, &said), 0, "%s", said);
  free(said);
  char *text = slurp(names, NULL);
  cr_expect_str_eq(text, "K(scale)\nK(total)\n");
  free(text);

  char *shown = show_blocks(GOOD);
  char want[4096];
  snprintf(want, sizeof want, "%s%s",
           "0 -\n"
           "1 -\n"
           "2 helper\n"
           "3 scale 2 [KERNEL ] [void sca] void scale(float *v, int n, float k);\n"
           "4 total 3 [KERNEL ] [void tot] void total(float *out, const float *v, int n);\n",
           GOOD);
  cr_expect_str_eq(shown, want);
  free(shown);
}

/* A function passed by name, as the kernels pass their pieces of work to
   KERNEL_SPLIT, is used as much as one called: the emitted code must carry
   it. */
Test(kernel_blocks, counts_a_function_passed_by_name)
{
  static const char text[] = "static void piece(void *ctx, int lo, int hi)\n"
                             "{\n"
                             "  (void)ctx;\n"
                             "  (void)lo;\n"
                             "  (void)hi;\n"
                             "}\n"
                             "\n"
                             "static void run(void (*fn)(void *, int, int))\n"
                             "{\n"
                             "  fn(0, 0, 1);\n"
                             "}\n"
                             "\n"
                             "KERNEL void whole(void)\n"
                             "{\n"
                             "  run(piece);\n"
                             "}\n";
  char *shown = show_blocks(text);
  cr_expect(strstr(shown, "0 piece\n1 run\n2 whole 0 1 [KERNEL ]") != NULL, "%s", shown);
  free(shown);
}
