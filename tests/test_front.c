/* test_front.c — the lexer, parser and checker through compile_source. */
#include <criterion/criterion.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "compiler.h"
#include "test.h"

static Compilation c;

static const Program *ok(const char *src)
{
  compile_free(&c);
  int rc = compile_source(&c, "t.gan", src, strlen(src));
  cr_assert_eq(rc, 0, "unexpected errors:\n%s", c.diag.out.buf ? c.diag.out.buf : "");
  return c.prog;
}

/* The first diagnostic line, without the file name. */
static const char *first_error(const char *src)
{
  compile_free(&c);
  int rc = compile_source(&c, "t.gan", src, strlen(src));
  cr_assert_neq(rc, 0, "no error for:\n%s", src);
  char *nl = strchr(c.diag.out.buf, '\n');
  if (nl)
    *nl = 0;
  return c.diag.out.buf + strlen("t.gan:");
}

static void fini(void)
{
  compile_free(&c);
}

TestSuite(front, .fini = fini);

#define MLP_BODY "latent [2] observation [2] generator { linear(2) } discriminator { linear(1) }"

Test(front, declarations_in_any_order)
{
  const Program *p = ok("model a { discriminator { linear(1) } generator { linear(2) } observation [2] "
                        "scalar double loss lsgan latent [3] }");
  cr_assert_eq(p->n, 1);
  cr_expect_eq(p->models[0].scalar, SCALAR_DOUBLE);
  cr_expect_eq(p->models[0].latent.dim[0], 3);
  cr_expect_eq(p->models[0].gen.layers[0].in.dim[0], 3);
}

Test(front, several_models)
{
  const Program *p = ok("model a { " MLP_BODY " }\n# comment\nmodel b { " MLP_BODY " scalar float }");
  cr_assert_eq(p->n, 2);
  cr_expect_str_eq(p->models[0].name, "a");
  cr_expect_str_eq(p->models[1].name, "b");
}

Test(front, arguments_positional_keyword_semicolons_comments)
{
  const Program *p = ok("model a {\n latent [4]\n observation [2]\n"
                        " generator { linear(out = 8); leaky_relu; leaky_relu(0.3) ; leaky_relu(slope=-.5,)\n"
                        "   linear(2) # the last\n }\n"
                        " discriminator { linear(1,) }\n}");
  const Stack *g = &p->models[0].gen;
  cr_assert_eq(g->n, 5);
  cr_expect_eq(g->layers[0].karg[0].i, 8);
  cr_expect_float_eq(g->layers[1].karg[0].r, 0.01, 1e-15);
  cr_expect_float_eq(g->layers[2].karg[0].r, 0.3, 1e-15);
  cr_expect_float_eq(g->layers[3].karg[0].r, -0.5, 1e-15);
  cr_expect_str_eq(g->layers[3].text, "leaky_relu(slope=-.5,)");
}

Test(front, numbers)
{
  static const char *const good[] = {"1", "0.2", ".5", "1.", "1e-3", "-0.2", "2E+2", "-.5e1"};
  static const double want[] = {1, 0.2, 0.5, 1, 1e-3, -0.2, 200, -5};
  for (size_t i = 0; i < sizeof good / sizeof good[0]; i++) {
    char src[256];
    snprintf(src, sizeof src, "model a { latent [2] observation [2] generator { leaky_relu(%s) } "
                              "discriminator { linear(1) } }", good[i]);
    const Program *p = ok(src);
    cr_expect_float_eq(p->models[0].gen.layers[0].karg[0].r, want[i], 1e-15, "%s", good[i]);
    compile_free(&c);
  }
}

Test(front, shapes_and_parameter_layout)
{
  const Program *p = ok("model a { latent [2, 3] observation [1, 4, 4] scalar float\n"
                        " generator { flatten linear(16) sigmoid reshape([1, 4, 4]) }\n"
                        " discriminator { flatten linear(5) tanh linear(1) reshape([]) } }");
  const Model *m = &p->models[0];
  const Layer *g1 = &m->gen.layers[1];
  /* torch.cat([p.flatten() for p in [*G.parameters(), *D.parameters()]]) */
  cr_expect_eq(g1->index, 1);
  cr_expect_eq(g1->tensor[0].off, 0);
  cr_expect_eq(g1->tensor[0].count, 16 * 6);
  cr_expect_eq(g1->tensor[1].off, 96);
  cr_expect_eq(m->gen.param_count, 96 + 16);
  const Layer *d1 = &m->disc.layers[1], *d3 = &m->disc.layers[3];
  cr_expect_eq(d1->tensor[0].off, 112);
  cr_expect_eq(d1->tensor[0].shape.dim[0], 5);
  cr_expect_eq(d1->tensor[0].shape.dim[1], 16);
  cr_expect_eq(d1->tensor[1].off, 112 + 80);
  cr_expect_eq(d3->tensor[0].off, 112 + 80 + 5);
  cr_expect_eq(d3->tensor[1].off, 112 + 80 + 5 + 5);
  cr_expect_eq(m->param_count, 112 + 80 + 5 + 5 + 1);
  cr_expect_eq(m->disc.out.rank, 0);
  cr_expect_eq(m->gen.flops, 2 * 6 * 16);
  cr_expect_eq(m->disc.flops, 2 * 16 * 5 + 2 * 5);
}

Test(front, convolution_shapes)
{
  const Program *p = ok("model a { latent [4, 7, 9] observation [2, 14, 18] "
                        "generator { conv_transpose2d(2, 4, stride=2, padding=1) }\n"
                        "discriminator { conv2d(3, 3, 2, 1) flatten linear(1) } }");
  const Model *m = &p->models[0];
  const Layer *g = &m->gen.layers[0], *d = &m->disc.layers[0];
  /* (7-1)*2 + 4 - 2*1 = 14 and (9-1)*2 + 4 - 2 = 18 */
  cr_expect_eq(g->out.dim[1], 14);
  cr_expect_eq(g->out.dim[2], 18);
  /* conv_transpose2d weight [in, out, k, k] */
  cr_expect_eq(g->tensor[0].shape.dim[0], 4);
  cr_expect_eq(g->tensor[0].shape.dim[1], 2);
  cr_expect_eq(g->tensor[0].count, 4 * 2 * 4 * 4);
  cr_expect_eq(g->tensor[1].off, 128);
  /* floor((14 + 2 - 3) / 2) + 1 = 7, floor((18 + 2 - 3) / 2) + 1 = 9 */
  cr_expect_eq(d->out.dim[0], 3);
  cr_expect_eq(d->out.dim[1], 7);
  cr_expect_eq(d->out.dim[2], 9);
  /* conv2d weight [out, in, k, k], after G's 130 */
  cr_expect_eq(d->tensor[0].off, 130);
  cr_expect_eq(d->tensor[0].shape.dim[0], 3);
  cr_expect_eq(d->tensor[0].shape.dim[1], 2);
  cr_expect_eq(m->param_count, 130 + 54 + 3 + 189 + 1);
  /* convT: each of 4*7*9 inputs meets 2*4*4 weights; conv2d: each of 3*7*9
     outputs meets 2*3*3; then linear(1) on 189. */
  cr_expect_eq(m->gen.flops, 2 * 252 * 2 * 16);
  cr_expect_eq(m->disc.flops, 2 * 189 * 2 * 9 + 2 * 189);
}

Test(front, column_counts_bytes)
{
  /* A tab is one column; so is each byte of UTF-8 in a comment before. */
  cr_expect_str_eq(first_error("model a {\n\tlatent [0] observation [2] generator { } discriminator { }\n}"), "2:10: error: dimension must be a positive integer, not 0");
  cr_expect_str_eq(first_error("model a { # é\n  latent [2] observation [2] generator { linear(3) } discriminator { linear(1) } }"),
                   "2:42: error: generator produces [3] but observation is [2]");
}

Test(front, checked_arithmetic)
{
  cr_expect_str_eq(first_error("model a { latent [2147483647, 2] observation [2] generator { } discriminator { } }"),
                   "1:18: error: shape has too many elements (more than 2147483647)");
  cr_expect_str_eq(first_error("model a { latent [9223372036854775807] observation [2] generator { } discriminator { } }"),
                   "1:19: error: dimension 9223372036854775807 is too large (at most 2147483647)");
  cr_expect_str_eq(first_error("model a { latent [2] observation [2] generator { linear(2) } "
                               "discriminator { linear(65536) linear(65536) linear(1) } }"),
                   "1:92: error: too many parameters (more than 2147483647 in a model)");
}

/* The documented limits: models per file and layers per stack. */
Test(front, limits)
{
  Str src = {0};
  for (int i = 0; i <= MAX_MODELS; i++)
    str_printf(&src, "model m%d { " MLP_BODY " }\n", i);
  compile_free(&c);
  cr_expect_neq(compile_source(&c, "t.gan", src.buf, src.len), 0);
  cr_expect(strstr(c.diag.out.buf, "t.gan:257:7: error: file has 257 models; at most 256 are supported"), "%s",
            c.diag.out.buf);
  str_free(&src);
  str_printf(&src, "model m { latent [2] observation [2] discriminator { linear(1) } generator {");
  for (int i = 0; i <= MAX_LAYERS; i++)
    str_puts(&src, " relu");
  str_puts(&src, " } }");
  compile_free(&c);
  cr_expect_neq(compile_source(&c, "t.gan", src.buf, src.len), 0);
  cr_expect(strstr(c.diag.out.buf, "error: generator has 1025 layers; at most 1024 are supported"), "%s",
            c.diag.out.buf);
  str_free(&src);
}

Test(front, error_limit)
{
  char src[8192] = "model a { latent [2] observation [2] generator {";
  for (int i = 0; i < 100; i++)
    strcat(src, " bogus");
  strcat(src, " } discriminator { linear(1) } }");
  compile_free(&c);
  compile_source(&c, "t.gan", src, strlen(src));
  cr_expect_eq(c.diag.errors, DIAG_MAX_ERRORS);
  cr_expect(strstr(c.diag.out.buf, "too many errors") != NULL);
}

/* Every prefix of every model in models/ and tests/models/, and random
   bytes, compile or fail with diagnostics; none crashes. */
Test(front, truncations_and_garbage)
{
  const char *dirs[] = {"models", "tests/models", "tests/errors"};
  for (int d = 0; d < 3; d++) {
    char **files = list_files(dirs[d], ".gan");
    for (char **f = files; *f; f++) {
      size_t len;
      char *src = slurp(*f, &len);
      for (size_t n = 0; n <= len; n++) {
        int rc = compile_source(&c, *f, src, n);
        cr_assert(rc == 0 || c.diag.errors > 0, "%s[:%zu]: failed without a diagnostic", *f, n);
        compile_free(&c);
      }
      free(src);
    }
    paths_free(files);
  }
  ganc_rng r;
  ganc_rng_seed(&r, 11);
  static const char alphabet[] = "model{}[](),=;# \n1-.e_abz\x80\xff\t0";
  char buf[512];
  for (int iter = 0; iter < 20000; iter++) {
    size_t n = ganc_rng_next(&r) % sizeof buf;
    for (size_t i = 0; i < n; i++)
      buf[i] = alphabet[ganc_rng_next(&r) % (sizeof alphabet - 1)];
    int rc = compile_source(&c, "x", buf, n);
    cr_assert(rc == 0 || c.diag.errors > 0);
    compile_free(&c);
  }
}
