/* test_cli.c — the ganc command line: exit codes, options, standard input,
 * emitted files, ganc bounds, and the installed library used through
 * pkg-config. */
#include <criterion/criterion.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#include "fixture.h"
#include "test.h"

Test(cli, version_and_help)
{
  Run r = run_ganc("--version", NULL);
  cr_expect_eq(r.status, 0);
  cr_expect(strncmp(r.out, "ganc " GANC_VERSION "\n", 6) == 0, "%s", r.out);
  run_free(&r);
  static const char *const cmds[] = {"check", "summary", "emit", "sample", "bounds"};
  for (int i = 0; i < 5; i++) {
    char args[64];
    snprintf(args, sizeof args, "%s --help", cmds[i]);
    r = run_ganc(args, NULL);
    cr_expect_eq(r.status, 0, "%s", args);
    cr_expect(strstr(r.out, "usage: ganc") == r.out, "%s: %s", args, r.out);
    run_free(&r);
    snprintf(args, sizeof args, "help %s", cmds[i]);
    r = run_ganc(args, NULL);
    cr_expect_eq(r.status, 0, "%s", args);
    run_free(&r);
  }
}

Test(cli, usage_errors_exit_2)
{
  static const char *const bad[] = {"", "frobnicate x.gan", "check", "check --bogus models/ring8.gan",
                                    "emit models/ring8.gan", "check a.gan b.gan", "sample -n 0 models/ring8.gan -o -"};
  for (int i = 0; i < 7; i++) {
    Run r = run_ganc(bad[i], NULL);
    cr_expect_eq(r.status, 2, "'ganc %s' exited %d", bad[i], r.status);
    cr_expect(strstr(r.err, "ganc") != NULL, "'ganc %s' said nothing", bad[i]);
    run_free(&r);
  }
}

Test(cli, check_is_silent_on_success)
{
  Run r = run_ganc("check models/fashion_mlp.gan", NULL);
  cr_expect_eq(r.status, 0);
  cr_expect_str_empty(r.out);
  cr_expect_str_empty(r.err);
  run_free(&r);
}

Test(cli, cannot_open)
{
  Run r = run_ganc("check no/such/file.gan", NULL);
  cr_expect_eq(r.status, 1);
  cr_expect_str_eq(r.err, "ganc: cannot open 'no/such/file.gan': No such file or directory\n");
  run_free(&r);
}

Test(cli, standard_input)
{
  char *src = slurp("tests/errors/unknown_layer.gan", NULL);
  Run r = run_ganc("check -", src);
  cr_expect_eq(r.status, 1);
  cr_expect(strncmp(r.err, "<stdin>:4:15: error: unknown layer 'lineer'", 43) == 0, "%s", r.err);
  run_free(&r);
  free(src);
  src = slurp("models/ring8.gan", NULL);
  r = run_ganc("summary -", src);
  cr_expect_eq(r.status, 0);
  cr_expect(strstr(r.out, "model ring8") != NULL);
  run_free(&r);
  free(src);
}

Test(cli, summary_totals)
{
  Run r = run_ganc("summary models/fashion_mlp.gan", NULL);
  cr_expect_eq(r.status, 0, "%s", r.err);
  /* 64*256+256 + 256*512+512 + 512*784+784 = 550,416; 784*512+512 + 512*256+256 + 256+1 = 533,505 */
  cr_expect(strstr(r.out, "550,416 generator + 533,505 discriminator = 1,083,921 (4,335,684 bytes)"), "%s", r.out);
  /* 2*(64*256 + 256*512 + 512*784) and 2*(784*512 + 512*256 + 256) */
  cr_expect(strstr(r.out, "FLOPs per sample: generate 1,097,728, discriminator 1,065,472"), "%s", r.out);
  cr_expect(strstr(r.out, "    2   linear(512)                    9  [512]                   131,584\n"), "%s", r.out);
  run_free(&r);
}

Test(cli, model_selection)
{
  Run r = run_ganc("summary --model b tests/models/two_models.gan", NULL);
  run_free(&r);
  char **files = list_files("tests/models", ".gan");
  cr_assert(files[0]);
  paths_free(files);
  r = run_ganc("summary --model nosuch models/ring8.gan", NULL);
  cr_expect_eq(r.status, 1);
  cr_expect(strstr(r.err, "has no model 'nosuch' (it has: ring8)"), "%s", r.err);
  run_free(&r);
}

Test(cli, emit_writes_nothing_on_error)
{
  char *dir = tmpdir_make(), args[1024], out[700];
  snprintf(out, sizeof out, "%s/out", dir);
  snprintf(args, sizeof args, "emit tests/errors/several_errors.gan -o %s", out);
  Run r = run_ganc(args, NULL);
  cr_expect_eq(r.status, 1);
  struct stat st;
  cr_expect(stat(out, &st) != 0, "emit created %s despite errors", out);
  run_free(&r);
  tmpdir_remove(dir);
}

/* The exit status follows the kind of failure, not the words of the message:
   a syntax error is the user's (1) even when the file's path, which every
   diagnostic quotes, says "internal error". */
Test(cli, exit_status_from_error_kind)
{
  char *dir = tmpdir_make(), folder[700], path[720], args[2048];
  snprintf(folder, sizeof folder, "%s/internal error", dir);
  cr_assert_eq(mkdir(folder, 0777), 0);
  snprintf(path, sizeof path, "%s/m.gan", folder);
  FILE *f = fopen(path, "w");
  cr_assert(f);
  fputs("model m {\n", f);
  fclose(f);
  snprintf(args, sizeof args, "train '%s' --data ring8 -o '%s/out'", path, dir);
  Run r = run_ganc(args, NULL);
  cr_expect_eq(r.status, 1, "exited %d: %s", r.status, r.err);
  cr_expect(strstr(r.err, "internal error/m.gan:") != NULL, "%s", r.err);
  run_free(&r);
  tmpdir_remove(dir);
}

/* ganc bench reports every emitted function and the training step, under
   the JIT and ahead of time. */
Test(cli, bench_json, .timeout = 120)
{
  Run r = run_ganc("bench tests/models/mlp_basic.gan --batch 3 --json", NULL);
  cr_assert_eq(r.status, 0, "%s", r.err);
  static const char *const fns[] = {"generate_batch", "real_score_batch", "fake_score_batch",
                                    "discriminator_loss_batch", "generator_loss_batch",
                                    "discriminator_loss_backward", "generator_loss_backward", "training step"};
  cr_expect(strstr(r.out, "\"jit_compile_ms\": ") != NULL, "%s", r.out);
  for (int i = 0; i < 8; i++) {
    char want[128];
    snprintf(want, sizeof want, "\"batch\": 3, \"function\": \"%s\"", fns[i]);
    const char *line = strstr(r.out, want);
    cr_expect(line && strstr(line, "\"aot_us\": "), "no JIT and AOT timing of %s:\n%s", fns[i], r.out);
  }
  run_free(&r);
  r = run_ganc("bench tests/models/mlp_basic.gan --batch 0", NULL);
  cr_expect_eq(r.status, 2);
  run_free(&r);
}

/* Output folders are created with their parents, as mkdir -p; a file in
   the way is an error naming it. */
Test(cli, output_folders_are_created)
{
  char *dir = tmpdir_make(), args[1024], path[900];
  snprintf(args, sizeof args, "emit models/ring8.gan -o %s/a/b/c", dir);
  Run r = run_ganc(args, NULL);
  cr_expect_eq(r.status, 0, "%s", r.err);
  run_free(&r);
  snprintf(path, sizeof path, "%s/a/b/c/ring8.c", dir);
  FILE *f = fopen(path, "r");
  cr_expect(f != NULL, "no %s", path);
  if (f)
    fclose(f);
  snprintf(args, sizeof args, "emit models/ring8.gan -o %s/a/b/c/ring8.c/x", dir);
  r = run_ganc(args, NULL);
  cr_expect_eq(r.status, 1);
  cr_expect(strstr(r.err, "ring8.c': Not a directory"), "%s", r.err);
  run_free(&r);
  tmpdir_remove(dir);
}

/* The emitted files compile in strict C99 under gcc, clang and tcc, and
   keep their promises: no heap, no mutable static state. */
Test(cli, emitted_code_is_strict_c99)
{
  const char *dirs[] = {"models", "tests/models"};
  static const char *const compilers[] = {"gcc", "clang", "tcc"};
  for (int d = 0; d < 2; d++) {
    char **files = list_files(dirs[d], ".gan");
    for (char **f = files; *f; f++) {
      char *dir = tmpdir_make(), args[700], cmd[2048];
      snprintf(args, sizeof args, "emit %s -o %s", *f, dir);
      Run r = run_ganc(args, NULL);
      cr_assert_eq(r.status, 0, "%s: %s", *f, r.err);
      run_free(&r);
      for (int k = 0; k < 3; k++) {
        char *log = NULL;
        snprintf(cmd, sizeof cmd, "cd %s && for c in *.c; do %s -std=c99 -Wall -Wextra -pedantic -Werror -c $c "
                 "-o strict.o || exit 1; done", dir, compilers[k]);
        cr_expect_eq(run_shell(cmd, &log), 0, "%s under %s:\n%s", *f, compilers[k], log);
        free(log);
      }
      char *log = NULL;
      /* The one exception: a batch_norm model's two _backward functions
         take their workspace from the heap and free it (docs/DESIGN.md §4). */
      snprintf(cmd, sizeof cmd, "cd %s && ! grep -nE 'malloc|calloc|realloc|free\\(|^static [^(]*[=;]' *.c | "
               "grep -vE ':  workspace = malloc\\([A-Za-z0-9_]+_TRAIN_WORKSPACE_BYTES\\(n\\)\\);$|:  free\\(workspace\\);$'",
               dir);
      cr_expect_eq(run_shell(cmd, &log), 0, "%s: heap use or a static variable:\n%s", *f, log);
      free(log);
      snprintf(cmd, sizeof cmd, "cd %s && for h in *.h; do printf '#include \"%%s\"\\n#include \"%%s\"\\n' $h $h > x.cc; "
               "g++ -std=c++11 -Wall -Werror -fsyntax-only x.cc || exit 1; done", dir);
      log = NULL;
      cr_expect_eq(run_shell(cmd, &log), 0, "%s: header not usable twice from C++:\n%s", *f, log);
      free(log);
      tmpdir_remove(dir);
    }
    paths_free(files);
  }
}

/* make install into a staging folder, then a program that embeds the JIT
   and saves and loads weights builds with nothing but pkg-config's flags
   and runs. */
Test(cli, install_and_pkg_config, .timeout = 120)
{
  char *dir = tmpdir_make(), cmd[4096], *log = NULL;
  snprintf(cmd, sizeof cmd,
           "make -s install PREFIX=%s/usr >/dev/null && "
           "test -x %s/usr/bin/ganc && test -f %s/usr/include/ganc.h && test -f %s/usr/lib/libganc.a && "
           "cat > %s/embed.c <<'EOF'\n"
           "#include <ganc.h>\n#include <stdio.h>\n"
           "int main(int argc, char **argv) {\n  char err[4096];\n"
           "  ganc_model *m = ganc_jit(\"models/ring8.gan\", err, sizeof err, NULL);\n"
           "  if (!m) { fputs(err, stderr); return 1; }\n"
           "  const ganc_info *info = ganc_find_model(m, \"ring8\");\n"
           "  float (*fake)(const float *, const float *);\n"
           "  *(void **)&fake = ganc_symbol(m, \"ring8_fake_score\");\n"
           "  static float p[100000]; float z[2] = {0.5f, -1};\n"
           "  ganc_init_params(info, 1, p);\n"
           "  if (ganc_save_weights(info, argv[1], p, NULL, NULL, err, sizeof err) ||\n"
           "      ganc_load_weights(info, argv[1], p, NULL, NULL, err, sizeof err)) { fputs(err, stderr); return 1; }\n"
           "  printf(\"%%lld %%g\\n\", (long long)info->param_count, (double)fake(p, z));\n"
           "  ganc_free(m);\n  return 0;\n}\nEOF\n"
           "PKG_CONFIG_PATH=%s/usr/lib/pkgconfig cc -o %s/embed %s/embed.c "
           "$(PKG_CONFIG_PATH=%s/usr/lib/pkgconfig pkg-config --cflags --libs --static ganc) && "
           "%s/embed %s/weights.safetensors && "
           "make -s uninstall PREFIX=%s/usr && test ! -e %s/usr/bin/ganc",
           dir, dir, dir, dir, dir, dir, dir, dir, dir, dir, dir, dir, dir);
  int rc = run_shell(cmd, &log);
  cr_expect_eq(rc, 0, "%s", log);
  /* G: 2*128+128 + 128*128+128 + 128*2+2 = 17,154; D: 2*128+128 + 128*128+128 + 128+1 = 17,025 */
  cr_expect(strstr(log, "34179 ") != NULL, "%s", log);
  free(log);
  tmpdir_remove(dir);
}

/* --dump prints the state between the stages; the plan it prints is the one
   the emitted code states, and a checker error still shows the parse. */
Test(cli, dump_stages)
{
  Run r = run_ganc("check --dump=plan models/fashion_dcgan.gan", NULL);
  cr_assert_eq(r.status, 0, "%s", r.err);
  long long bytes = 0;
  int tile = 0, train_tile = 0, chunk = 0;
  cr_assert(sscanf(r.out, "model fashion_dcgan: TILE %d, TRAIN_TILE %d, CHUNK %d, deepest call chain %lld bytes",
                   &tile, &train_tile, &chunk, &bytes) == 4, "%s", r.out);
  cr_expect(strstr(r.out, "fashion_dcgan_generator_loss_backward: frame") != NULL, "%s", r.out);
  run_free(&r);
  char *dir = tmpdir_make(), args[512], path[600], want[192];
  snprintf(args, sizeof args, "emit models/fashion_dcgan.gan -o %s", dir);
  r = run_ganc(args, NULL);
  cr_assert_eq(r.status, 0, "%s", r.err);
  run_free(&r);
  snprintf(path, sizeof path, "%s/fashion_dcgan.c", dir);
  char *src = slurp(path, NULL);
  snprintf(want, sizeof want, "(this model's deepest needs %lld). */\nenum { TILE = %d, TRAIN_TILE = %d, CHUNK = %d };",
           bytes, tile, train_tile, chunk);
  cr_expect(src && strstr(src, want), "the emitted source does not say: %s", want);
  free(src);
  tmpdir_remove(dir);

  r = run_ganc("check --dump=ir models/ring8.gan", NULL);
  cr_expect_eq(r.status, 0);
  cr_expect(strstr(r.out, "    0 linear(128)") && strstr(r.out, "weight [128, 2] @0"), "%s", r.out);
  run_free(&r);
  r = run_ganc("check --dump=ast -", "model m { latent [2] observation [2]\n"
                                     "  generator { linear(3) } discriminator { linear(1) } }\n");
  cr_expect_eq(r.status, 1);
  cr_expect(strstr(r.out, "model m  @1:7") && strstr(r.out, "    linear(3)  @2:15"), "%s", r.out);
  cr_expect(strstr(r.err, "generator produces [3] but observation is [2]") != NULL, "%s", r.err);
  run_free(&r);
  r = run_ganc("check --dump=tokens models/ring8.gan", NULL);
  cr_expect_eq(r.status, 2);
  cr_expect(strstr(r.err, "--dump takes ast, ir or plan") != NULL, "%s", r.err);
  run_free(&r);
  r = run_ganc("train --dump=ast models/ring8.gan --data ring8 -o x", NULL);
  cr_expect_eq(r.status, 2, "train compiles through the JIT and takes no --dump");
  run_free(&r);
}

/* A packed model trains on batches of whole packs: --batch counts samples. */
Test(cli, packed_batch_counts_samples)
{
  char *dir = tmpdir_make(), args[512];
  snprintf(args, sizeof args, "train models/ring8_pack.gan --data ring8 --steps 3 --batch 7 -o %s/a", dir);
  Run r = run_ganc(args, NULL);
  cr_expect_eq(r.status, 1, "%s", r.err);
  cr_expect(strstr(r.err, "--batch 7 is not a multiple of ring8_pack's pack 2") != NULL, "%s", r.err);
  run_free(&r);
  snprintf(args, sizeof args, "train models/ring8_pack.gan --data ring8 --steps 3 --batch 8 --every 3 -o %s/b", dir);
  r = run_ganc(args, NULL);
  cr_expect_eq(r.status, 0, "%s", r.err);
  run_free(&r);
  r = run_ganc("summary models/ring8_pack.gan", NULL);
  cr_expect(strstr(r.out, "pack 2") && strstr(r.out, "  discriminator                       17  [4]"), "%s", r.out);
  run_free(&r);
  tmpdir_remove(dir);
}

/* ---- ganc bounds ---- */

/* A model compiled in memory with parameters initialized from a seed (1
   is what ganc bounds and ganc sample use without --weights). */
typedef struct Jit {
  ganc_model *m;
  const ganc_info *info;
  ganc_fns fns;
  void *params, *stats;
} Jit;

static Jit jit_model(const char *file, const char *model, uint64_t seed)
{
  char err[16384];
  Jit j = {0};
  j.m = ganc_jit(file, err, sizeof err, NULL);
  cr_assert_not_null(j.m, "ganc_jit(%s) failed:\n%s", file, err);
  j.info = ganc_find_model(j.m, model);
  cr_assert_not_null(j.info);
  cr_assert_eq(ganc_functions(j.m, j.info, &j.fns), 0);
  j.params = scalar_alloc(j.info->scalar_size, j.info->param_count);
  j.stats = scalar_alloc(j.info->scalar_size, j.info->stats_count);
  ganc_init_params(j.info, seed, j.params);
  ganc_init_stats(j.info, j.stats);
  return j;
}

static void jit_free(Jit *j)
{
  free(j->params);
  free(j->stats);
  ganc_free(j->m);
}

/* generate of z's first latent into x (obs_size doubles), and the fake
   score of z, a pack of latents for a packed model; z as doubles that the
   model's scalar type holds. */
static double jit_run(const Jit *j, const double *z, int label, double *x)
{
  const ganc_info *info = j->info;
  int size = info->scalar_size;
  void *zs = scalars_from(size, z, info->latent_size * info->pack), *out = scalar_alloc(size, info->obs_size);
  ganc_args a = {.params = j->params, .stats = j->stats, .z = zs, .z_labels = &label, .out = out};
  ganc_call(info, &j->fns, GANC_FN_GENERATE, &a);
  for (int64_t i = 0; i < info->obs_size; i++)
    x[i] = scalar_load(out, size, i);
  double score = ganc_call(info, &j->fns, GANC_FN_FAKE_SCORE, &a);
  free(zs);
  free(out);
  return score;
}

/* A bounds CSV: the header, a row x,I,LO,HI for each I < n and the row
   fake_score,0,LO,HI, each with LO <= HI, into lo and hi (n + 1 each, the
   fake score's last). */
static void read_bounds(const char *path, int64_t n, double *lo, double *hi)
{
  char *text = slurp(path, NULL), *save = NULL;
  cr_assert_not_null(text, "no %s", path);
  int64_t rows = -1;
  for (char *line = strtok_r(text, "\n", &save); line; line = strtok_r(NULL, "\n", &save), rows++) {
    if (rows < 0) {
      cr_expect_str_eq(line, "output,element,lo,hi");
      continue;
    }
    char what[16];
    long long i = -1;
    cr_assert(rows <= n, "%s has more than %lld rows", path, (long long)n + 1);
    cr_assert(sscanf(line, "%15[a-z_],%lld,%lf,%lf", what, &i, &lo[rows], &hi[rows]) == 4, "%s: %s", path, line);
    cr_expect_str_eq(what, rows < n ? "x" : "fake_score", "%s: %s", path, line);
    cr_expect_eq(i, rows < n ? rows : 0, "%s: %s", path, line);
    cr_expect(lo[rows] <= hi[rows], "%s: %s", path, line);
  }
  cr_expect_eq(rows, n + 1, "%s: %lld rows after the header, not obs_size + 1", path, (long long)rows);
  free(text);
}

/* The bounds of a box hold what generate and fake_score give for latents
   in it, here every sample ganc sample draws (its latents are normals, all
   well inside [-10, 10], and its parameters those of seed 1 too). */
Test(cli, bounds_box)
{
  char *dir = tmpdir_make();
  const char *csv = path_in(dir, "b.csv");
  Run r = run_gancf("bounds models/ring8.gan --box -10,10 -o %s", csv);
  cr_assert_eq(r.status, 0, "%s", r.err);
  cr_expect_str_empty(r.err);
  static const char first[] = "ring8: parameters freshly initialized (seed 1, no --weights); latent box [-10, 10] "
                              "in each of 2 elements\ngenerate: 2 elements\n  tightest  x[";
  cr_expect(strncmp(r.out, first, strlen(first)) == 0, "%s", r.out);
  char want[1024];
  cr_expect(strstr(r.out, "\n  widest    x[") && strstr(r.out, "\n  mean width ") && strstr(r.out, "\nfake_score: ["),
            "%s", r.out);
  snprintf(want, sizeof want, "\nwrote %s\n", csv);
  cr_expect(strstr(r.out, want), "%s", r.out);
  run_free(&r);
  double lo[3], hi[3];
  read_bounds(csv, 2, lo, hi);

  r = run_ganc("sample models/ring8.gan -n 256 -o -", NULL);
  cr_assert_eq(r.status, 0, "%s", r.err);
  char *save = NULL;
  int rows = 0;
  for (char *line = strtok_r(r.out, "\n", &save); line; line = strtok_r(NULL, "\n", &save), rows++) {
    double x[2];
    cr_assert(sscanf(line, "%lf,%lf", &x[0], &x[1]) == 2, "%s", line);
    for (int i = 0; i < 2; i++)
      cr_expect(lo[i] <= x[i] && x[i] <= hi[i], "sample %d: x[%d] = %g outside [%g, %g]", rows, i, x[i], lo[i], hi[i]);
  }
  cr_expect_eq(rows, 256);
  run_free(&r);

  /* The box's corners and centre, through the same functions in memory. */
  Jit j = jit_model("models/ring8.gan", "ring8", 1);
  static const double zs[5][2] = {{-10, -10}, {-10, 10}, {10, -10}, {10, 10}, {0, 0}};
  for (int k = 0; k < 5; k++) {
    double x[2], score = jit_run(&j, zs[k], 0, x);
    for (int i = 0; i < 2; i++)
      cr_expect(lo[i] <= x[i] && x[i] <= hi[i], "z %d: x[%d] = %g outside [%g, %g]", k, i, x[i], lo[i], hi[i]);
    cr_expect(lo[2] <= score && score <= hi[2], "z %d: fake_score %g outside [%g, %g]", k, score, lo[2], hi[2]);
  }
  jit_free(&j);
  tmpdir_remove(dir);
}

/* --center with --radius: radius 0 is the point itself, a box one rounding
   wide at most, and its bounds are tight and hold generate's and
   fake_score's values there; a larger radius gives wider or equal bounds
   that hold the smaller one's, element by element. */
Test(cli, bounds_center_radius)
{
  char *dir = tmpdir_make();
  const char *center = path_in(dir, "z.csv");
  static const double z[2] = {0.30000001192092896, -1.2000000476837158}; /* floats: 0.3f, -1.2f */
  FILE *f = fopen(center, "w");
  cr_assert_not_null(f);
  fprintf(f, "%.9g,%.9g\n", z[0], z[1]);
  fclose(f);
  static const char *const radii[] = {"0", "0.001", "0.1", "1"};
  double lo[4][3], hi[4][3];
  for (int k = 0; k < 4; k++) {
    const char *csv = path_in(dir, "r%d.csv", k);
    Run r = run_gancf("bounds models/ring8.gan --center %s --radius %s -o %s", center, radii[k], csv);
    cr_assert_eq(r.status, 0, "%s", r.err);
    char want[1024];
    snprintf(want, sizeof want, "ring8: parameters freshly initialized (seed 1, no --weights); latent box center %s "
             "radius %s in each of 2 elements\n", center, radii[k]);
    cr_expect(strncmp(r.out, want, strlen(want)) == 0, "%s", r.out);
    run_free(&r);
    read_bounds(csv, 2, lo[k], hi[k]);
  }
  Jit j = jit_model("models/ring8.gan", "ring8", 1);
  double x[3];
  x[2] = jit_run(&j, z, 0, x);
  for (int i = 0; i < 3; i++) {
    cr_expect(lo[0][i] <= x[i] && x[i] <= hi[0][i], "%d: %g outside [%g, %g]", i, x[i], lo[0][i], hi[0][i]);
    cr_expect(hi[0][i] - lo[0][i] < 1e-3, "%d: radius 0 gives [%g, %g]", i, lo[0][i], hi[0][i]);
    for (int k = 1; k < 4; k++)
      cr_expect(lo[k][i] <= lo[k - 1][i] && hi[k - 1][i] <= hi[k][i], "%d: radius %s's [%g, %g] is not within "
                "radius %s's [%g, %g]", i, radii[k - 1], lo[k - 1][i], hi[k - 1][i], radii[k], lo[k][i], hi[k][i]);
  }
  jit_free(&j);

  /* The same centre from standard input, spaces and newlines between. */
  Run r = run_ganc("bounds models/ring8.gan --center - --radius 0", "  0.300000012\n\n-1.20000005 \n");
  cr_expect_eq(r.status, 0, "%s", r.err);
  cr_expect(strstr(r.out, "latent box center <stdin> radius 0 in each of 2 elements\n"), "%s", r.out);
  run_free(&r);
  tmpdir_remove(dir);
}

/* The box holds the exact one: [c - R, c + R] and [LO, HI] rounded outward
   to the model's scalar type, where rounding to nearest would cut it.
   relu passes a positive box through unchanged, so generate's bounds show
   the box itself. */
Test(cli, bounds_box_rounded_outward)
{
  char *dir = tmpdir_make(), args[1024];
  const char *center = path_in(dir, "z.csv"), *csv = path_in(dir, "b.csv");
  FILE *f = fopen(center, "w");
  cr_assert_not_null(f);
  fputs("10,3\n", f);
  fclose(f);
  static const char *const scalars[] = {"", "  scalar double\n"};
  for (int k = 0; k < 2; k++) {
    char src[256];
    snprintf(src, sizeof src, "model id {\n%s  latent [2]\n  observation [2]\n  generator { relu }\n"
             "  discriminator { linear(1) }\n}\n", scalars[k]);
    snprintf(args, sizeof args, "bounds - --center %s --radius 0.7 -o %s", center, csv);
    Run r = run_ganc(args, src);
    cr_assert_eq(r.status, 0, "%s", r.err);
    run_free(&r);
    double lo[3], hi[3];
    read_bounds(csv, 2, lo, hi);
    if (k == 0) {
      /* Rounded to nearest, x[0] would be [9.30000019f, 10.6999998f],
         inside the exact box; x[1]'s nearest floats lie outside it. The
         CSV's digits read back as the floats. */
      cr_expect((float)lo[0] == 9.29999924f && (float)hi[0] == 10.7000008f, "[%.9g, %.9g]", lo[0], hi[0]);
      cr_expect((float)lo[1] == 2.29999995f && (float)hi[1] == 3.70000005f, "[%.9g, %.9g]", lo[1], hi[1]);
    } else {
      /* 10 - 0.7 and 10 + 0.7 in double are 0x1.299999999999ap+3 and
         0x1.5666666666666p+3, each inside the exact value. */
      cr_expect(lo[0] == 0x1.2999999999999p+3 && hi[0] == 0x1.5666666666667p+3, "[%a, %a]", lo[0], hi[0]);
      cr_expect(lo[1] == 0x1.2666666666666p+1 && hi[1] == 0x1.d99999999999ap+1, "[%a, %a]", lo[1], hi[1]);
    }
  }
  snprintf(args, sizeof args, "bounds - --box 0.1,0.2 -o %s", csv);
  Run r = run_ganc(args, "model id { latent [2] observation [2] generator { relu } discriminator { linear(1) } }\n");
  cr_assert_eq(r.status, 0, "%s", r.err);
  run_free(&r);
  double lo[3], hi[3];
  read_bounds(csv, 2, lo, hi);
  /* 0.1f lies above 0.1, 0.2f above 0.2. */
  for (int i = 0; i < 2; i++)
    cr_expect((float)lo[i] == 0.099999994f && (float)hi[i] == 0.2f, "[%.9g, %.9g]", lo[i], hi[i]);
  tmpdir_remove(dir);
}

/* --weights: the parameters of the file, named in the summary. */
Test(cli, bounds_weights)
{
  char *dir = tmpdir_make(), err[4096];
  const char *weights = path_in(dir, "w.safetensors"), *csv = path_in(dir, "b.csv");
  Jit j = jit_model("models/ring8.gan", "ring8", 7);
  cr_assert_eq(ganc_save_weights(j.info, weights, j.params, NULL, NULL, err, sizeof err), 0, "%s", err);
  Run r = run_gancf("bounds models/ring8.gan --weights %s --box 0.25,0.5 -o %s", weights, csv);
  cr_assert_eq(r.status, 0, "%s", r.err);
  char want[1024];
  snprintf(want, sizeof want, "ring8: weights %s; latent box [0.25, 0.5] in each of 2 elements\n", weights);
  cr_expect(strncmp(r.out, want, strlen(want)) == 0, "%s", r.out);
  run_free(&r);
  double lo[3], hi[3], x[3];
  read_bounds(csv, 2, lo, hi);
  static const double z[2] = {0.375, 0.25};
  x[2] = jit_run(&j, z, 0, x);
  for (int i = 0; i < 3; i++)
    cr_expect(lo[i] <= x[i] && x[i] <= hi[i], "%d: %g outside [%g, %g]", i, x[i], lo[i], hi[i]);
  jit_free(&j);
  r = run_gancf("bounds models/ring8_cgan.gan --weights %s --box 0,1 --label 0", weights);
  cr_expect_eq(r.status, 1, "weights of another model loaded");
  run_free(&r);
  tmpdir_remove(dir);
}

/* A conditional model's bounds are for one label, which it needs; an
   unconditional model takes none. */
Test(cli, bounds_label)
{
  char *dir = tmpdir_make();
  const char *csv = path_in(dir, "b.csv");
  Run r = run_gancf("bounds models/ring8_cgan.gan --box -0.5,0.5 --label 3 -o %s", csv);
  cr_assert_eq(r.status, 0, "%s", r.err);
  static const char first[] = "ring8_cgan: parameters freshly initialized (seed 1, no --weights); latent box "
                              "[-0.5, 0.5] in each of 2 elements; label 3\n";
  cr_expect(strncmp(r.out, first, strlen(first)) == 0, "%s", r.out);
  run_free(&r);
  double lo[3], hi[3], x[3];
  read_bounds(csv, 2, lo, hi);
  Jit j = jit_model("models/ring8_cgan.gan", "ring8_cgan", 1);
  static const double z[2] = {0.5, -0.25};
  x[2] = jit_run(&j, z, 3, x);
  for (int i = 0; i < 3; i++)
    cr_expect(lo[i] <= x[i] && x[i] <= hi[i], "%d: %g outside [%g, %g]", i, x[i], lo[i], hi[i]);
  jit_free(&j);

  static const char *const bad[][2] = {
      {"models/ring8_cgan.gan --box 0,1",
       "ganc: model 'ring8_cgan' is conditional: bounds needs --label K, one of its classes 0 .. 7\n"},
      {"models/ring8_cgan.gan --box 0,1 --label 8", "ganc: --label 8 is outside model 'ring8_cgan''s classes 0 .. 7\n"},
      {"models/ring8.gan --box 0,1 --label 0",
       "ganc: --label 0, but model 'ring8' has no classes (it is not conditional)\n"},
  };
  for (int i = 0; i < 3; i++) {
    r = run_gancf("bounds %s", bad[i][0]);
    cr_expect_eq(r.status, 1, "%s", bad[i][0]);
    cr_expect_str_eq(r.err, bad[i][1]);
    cr_expect_str_empty(r.out);
    run_free(&r);
  }
  tmpdir_remove(dir);
}

/* A packed model's fake score judges a pack of latents, each in the box. */
Test(cli, bounds_packed)
{
  char *dir = tmpdir_make();
  const char *csv = path_in(dir, "b.csv");
  Run r = run_gancf("bounds models/ring8_pack.gan --box -1,1 -o %s", csv);
  cr_assert_eq(r.status, 0, "%s", r.err);
  cr_expect(strstr(r.out, "\nfake_score (a pack of 2, each latent in the box): ["), "%s", r.out);
  run_free(&r);
  double lo[3], hi[3], x[2];
  read_bounds(csv, 2, lo, hi);
  Jit j = jit_model("models/ring8_pack.gan", "ring8_pack", 1);
  static const double z[4] = {1, -1, -0.5, 0.75};
  double score = jit_run(&j, z, 0, x);
  for (int i = 0; i < 2; i++)
    cr_expect(lo[i] <= x[i] && x[i] <= hi[i], "%d: %g outside [%g, %g]", i, x[i], lo[i], hi[i]);
  cr_expect(lo[2] <= score && score <= hi[2], "fake_score %g outside [%g, %g]", score, lo[2], hi[2]);
  jit_free(&j);
  tmpdir_remove(dir);
}

/* The bounds do not depend on the thread count; infinite ends are written
   as inf and -inf. */
Test(cli, bounds_threads)
{
  char *dir = tmpdir_make();
  const char *one = path_in(dir, "1.csv"), *two = path_in(dir, "2.csv"), *wide = path_in(dir, "inf.csv");
  Run r = run_gancf("bounds models/fashion_mlp.gan --box -3,3 --threads 1 -o %s", one);
  cr_expect_eq(r.status, 0, "%s", r.err);
  cr_expect(strstr(r.out, "in each of 64 elements\ngenerate: 784 elements\n"), "%s", r.out);
  run_free(&r);
  r = run_gancf("bounds models/fashion_mlp.gan --box -3,3 --threads 2 -o %s", two);
  cr_expect_eq(r.status, 0, "%s", r.err);
  run_free(&r);
  cr_expect(same_file(one, two), "--threads 1 and 2 differ");
  double lo[785], hi[785];
  read_bounds(one, 784, lo, hi);
  r = run_gancf("bounds models/ring8.gan --box -inf,inf -o %s", wide);
  cr_expect_eq(r.status, 0, "%s", r.err);
  run_free(&r);
  char *text = slurp(wide, NULL);
  cr_expect(text && strstr(text, "\nx,0,-inf,inf\n"), "%s", text);
  free(text);
  tmpdir_remove(dir);
}

/* Every usage error of bounds, word for word, with exit status 2. */
Test(cli, bounds_usage_errors)
{
  static const char *const bad[][2] = {
      {"", "bounds needs a latent box: --box LO,HI, or --center FILE --radius R"},
      {"--box 1", "--box must be two numbers LO,HI (each finite, inf or -inf), not '1'"},
      {"--box 1,x", "--box must be two numbers LO,HI (each finite, inf or -inf), not '1,x'"},
      {"--box 1,2,3", "--box must be two numbers LO,HI (each finite, inf or -inf), not '1,2,3'"},
      {"--box nan,1", "--box must be two numbers LO,HI (each finite, inf or -inf), not 'nan,1'"},
      {"--box 1e999,2", "--box must be two numbers LO,HI (each finite, inf or -inf), not '1e999,2'"},
      {"--box 2,1", "--box LO,HI needs LO <= HI, not '2,1'"},
      {"--box inf,-inf", "--box LO,HI needs LO <= HI, not 'inf,-inf'"},
      {"--box 0,1 --center z.csv --radius 1", "--box and --center contradict each other"},
      {"--box 0,1 --radius 1", "--box and --radius contradict each other"},
      {"--center z.csv", "--center needs --radius R"},
      {"--radius 1", "--radius needs --center FILE"},
      {"--center z.csv --radius -1", "--radius must be a finite number >= 0, not '-1'"},
      {"--center z.csv --radius inf", "--radius must be a finite number >= 0, not 'inf'"},
      {"--center z.csv --radius r", "--radius must be a finite number >= 0, not 'r'"},
      {"--box 0,1 --label x", "--label must be an integer from 0 to 2147483647, not 'x'"},
      {"--box 0,1 -o out.txt", "-o names OUT.csv, not 'out.txt'"},
      {"--box 0,1 --threads 0", "--threads must be an integer from 1 to 256, not '0'"},
      {"--box", "option '--box' needs a value"},
  };
  for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++) {
    Run r = run_gancf("bounds models/ring8.gan %s", bad[i][0]);
    char want[256];
    snprintf(want, sizeof want, "ganc: %s\nTry 'ganc help bounds'.\n", bad[i][1]);
    cr_expect_eq(r.status, 2, "'ganc bounds %s' exited %d", bad[i][0], r.status);
    cr_expect_str_eq(r.err, want, "ganc bounds %s", bad[i][0]);
    cr_expect_str_empty(r.out);
    run_free(&r);
  }
  Run r = run_ganc("bounds - --center - --radius 1", "");
  cr_expect_eq(r.status, 2);
  cr_expect_str_eq(r.err, "ganc: --center - and the model file - cannot both be standard input\n"
                          "Try 'ganc help bounds'.\n");
  run_free(&r);
}

/* A centre file of the wrong length, or with something other than a
   finite number, is an error naming the file (and the line); so is a CSV
   that cannot be written. */
Test(cli, bounds_bad_center_file)
{
  char *dir = tmpdir_make();
  static const char *const files[][2] = {
      {"0.1\n0.2 0.3\n", "holds 3 numbers, but model 'ring8''s latent has 2\n"},
      {"0.5\n", "holds 1 number, but model 'ring8''s latent has 2\n"},
      {"", "holds 0 numbers, but model 'ring8''s latent has 2\n"},
      {"0.1,\n\n0.2x\n", ":3: '0.2x' is not a number\n"},
      {"0.1,inf\n", ":1: 'inf' is not a finite number\n"},
      {"1e999 0\n", ":1: '1e999' is not a finite number\n"},
  };
  for (int i = 0; i < 6; i++) {
    const char *path = path_in(dir, "z%d.csv", i);
    FILE *f = fopen(path, "w");
    cr_assert_not_null(f);
    fputs(files[i][0], f);
    fclose(f);
    Run r = run_gancf("bounds models/ring8.gan --center %s --radius 0.5", path);
    char want[1024];
    snprintf(want, sizeof want, "ganc: %s%s%s", path, files[i][1][0] == ':' ? "" : " ", files[i][1]);
    cr_expect_eq(r.status, 1, "%s", files[i][0]);
    cr_expect_str_eq(r.err, want);
    cr_expect_str_empty(r.out);
    run_free(&r);
  }
  Run r = run_ganc("bounds models/ring8.gan --center - --radius 0.5", "1 2 3");
  cr_expect_eq(r.status, 1);
  cr_expect_str_eq(r.err, "ganc: <stdin> holds 3 numbers, but model 'ring8''s latent has 2\n");
  run_free(&r);
  r = run_gancf("bounds models/ring8.gan --center %s/none.csv --radius 0.5", dir);
  cr_expect_eq(r.status, 1);
  cr_expect(strstr(r.err, "none.csv': No such file or directory\n"), "%s", r.err);
  run_free(&r);
  r = run_gancf("bounds models/ring8.gan --box 0,1 -o %s/no/such/b.csv", dir);
  cr_expect_eq(r.status, 1);
  cr_expect(strstr(r.err, "/no/such/b.csv.tmp': No such file or directory\n"), "%s", r.err);
  cr_expect_str_empty(r.out);
  run_free(&r);
  tmpdir_remove(dir);
}
