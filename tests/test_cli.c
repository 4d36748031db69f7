/* test_cli.c — the ganc command line: exit codes, options, standard input,
 * emitted files, and the installed library used through pkg-config. */
#include <criterion/criterion.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#include "test.h"

Test(cli, version_and_help)
{
  Run r = run_ganc("--version", NULL);
  cr_expect_eq(r.status, 0);
  cr_expect(strncmp(r.out, "ganc " GANC_VERSION "\n", 6) == 0, "%s", r.out);
  run_free(&r);
  static const char *const cmds[] = {"check", "summary", "emit", "sample"};
  for (int i = 0; i < 4; i++) {
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
