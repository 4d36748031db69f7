# ganc — build, test, demo, install.
#
#   make            build/ganc and build/libganc.a (says what is missing)
#   make deps       install the Debian packages ganc needs (as root)
#   make test       the Criterion suite (installs dependencies first if needed)
#   make demo       build, then train models/ring8.gan and show the result
#   make install    PREFIX=/usr/local, DESTDIR for staging; make uninstall
#   V=1 shows commands; SANITIZE=1 builds with ASan and UBSan.

PREFIX  ?= /usr/local
BINDIR  ?= $(PREFIX)/bin
LIBDIR  ?= $(PREFIX)/lib
INCDIR  ?= $(PREFIX)/include

CC      ?= cc
CFLAGS  ?= -O2 -g
WARN    := -Wall -Wextra -Wshadow -Wstrict-prototypes -Wmissing-prototypes -Werror
STD     := -std=c11 -D_POSIX_C_SOURCE=200809L
INCS    := -Icompiler -Ijit -Icli -Iruntime -Ibuild
LIBS    := -ltcc -lcjson -lpng -lz -lm -ldl -lpthread
# Open MPI, when libopenmpi-dev is installed: `mpirun -np P ganc train`
# trains data-parallel (runtime/dist.c); without it ganc runs as one process.
MPI_CFLAGS := $(shell pkg-config --cflags ompi-c 2>/dev/null)
MPI_LIBS   := $(shell pkg-config --libs ompi-c 2>/dev/null)
ifneq ($(MPI_LIBS),)
  MPI_CFLAGS += -DGANC_MPI
  LIBS       += $(MPI_LIBS)
endif

ifeq ($(SANITIZE),1)
  SAN     := -fsanitize=address,undefined -fno-omit-frame-pointer -fno-sanitize-recover=all
  CFLAGS  += $(SAN)
  LDFLAGS += $(SAN)
  B       := build/san
else
  B       := build
endif

ALL_CFLAGS = $(STD) $(INCS) -I$(B) $(CFLAGS) $(WARN)
# Flex and Bison output is not ours to fix; keep the rest of the warnings.
GEN_CFLAGS = $(STD) $(INCS) -I$(B) $(CFLAGS) -Wall -Wno-unused-function -Wno-sign-compare -Werror

ifneq ($(V),1)
  Q = @
  say = @printf '  %-6s %s\n' $(1) $(2);
else
  say =
endif

# The layers, each depending only on those below it:
#   cli/       the ganc command (driver, bench, summaries, output files)
#   jit/       compile in memory with libtcc and look up the emitted functions
#   compiler/  .gan text to C text: lexer, parser, checker, lowering, emitter
#   runtime/   what programs link: kernels, rng, Adam, safetensors, data, images, training
COMPILER := arena diag layers losses check lower describe emit dump compile
JIT      := jit
RUNTIME  := api call rng adam safetensors data image train threads dist
CLI      := main summary output progress bench
# The JIT's kernels: per scalar type, and on x86-64 per instruction set level.
ifneq ($(filter x86_64%,$(shell $(CC) -dumpmachine)),)
  KERNEL_LEVELS := v1 v3 v4
else
  KERNEL_LEVELS := v1
endif
KERNEL_OBJS := $(foreach l,$(KERNEL_LEVELS),$(B)/runtime/kernels_f32_$(l).o $(B)/runtime/kernels_f64_$(l).o)
kernel_march = $(if $(filter v3,$(1)),-march=x86-64-v3,$(if $(filter v4,$(1)),-march=x86-64-v4))
LIB_OBJS := $(B)/parser.o $(B)/lexer.o \
            $(COMPILER:%=$(B)/compiler/%.o) $(JIT:%=$(B)/jit/%.o) $(RUNTIME:%=$(B)/runtime/%.o) \
            $(KERNEL_OBJS)
TESTS    := $(patsubst tests/%.c,$(B)/tests/%.o,$(wildcard tests/*.c))

# ---- dependencies -----------------------------------------------------------

DEB_PACKAGES := flex bison tcc libtcc-dev libcriterion-dev zlib1g-dev \
                libcjson-dev libpng-dev pkg-config clang libclang-rt-14-dev dataset-fashion-mnist \
                libopenmpi-dev openmpi-bin

have_cmd    = $(if $(shell command -v $(1) 2>/dev/null),,$(2))
have_header = $(if $(shell printf '\#include <$(1)>\n' | $(CC) -E -x c - >/dev/null 2>&1 && echo y),,$(2))

MISSING_BUILD = $(strip \
  $(call have_cmd,flex,flex) $(call have_cmd,bison,bison) \
  $(call have_header,libtcc.h,libtcc-dev) $(call have_cmd,tcc,tcc) \
  $(call have_header,cjson/cJSON.h,libcjson-dev) $(call have_header,png.h,libpng-dev) \
  $(call have_header,zlib.h,zlib1g-dev))
MISSING_TEST = $(strip $(MISSING_BUILD) \
  $(call have_header,criterion/criterion.h,libcriterion-dev) $(call have_cmd,clang,clang) \
  $(call have_cmd,pkg-config,pkg-config))

.PHONY: all deps check-deps test demo bench install uninstall clean FORCE

all: check-deps $(B)/ganc $(B)/libganc.a

check-deps:
	@missing='$(MISSING_BUILD)'; if [ -n "$$missing" ]; then \
	  echo "ganc: missing dependencies: $$missing"; \
	  echo "install them with: sudo apt-get install $$missing   (or: sudo make deps)"; \
	  exit 1; fi

deps:
	apt-get update
	DEBIAN_FRONTEND=noninteractive apt-get install -y --no-install-recommends $(DEB_PACKAGES)

# ---- generated front end ----------------------------------------------------

# One run of bison makes both (a grouped target: make runs it once under -j).
$(B)/parser.c $(B)/parser.h &: compiler/parser.y
	@mkdir -p $(B)
	$(call say,BISON,$<)
	$(Q)bison -Wall -Wcounterexamples -o $(B)/parser.c --header=$(B)/parser.h $<

$(B)/lexer.c: compiler/lexer.l
	@mkdir -p $(B)
	$(call say,FLEX,$<)
	$(Q)flex -o $@ $<

$(B)/parser.o: $(B)/parser.c compiler/compiler.h
	$(call say,CC,$<)
	$(Q)$(CC) $(GEN_CFLAGS) -c -o $@ $<

$(B)/lexer.o: $(B)/lexer.c $(B)/parser.h compiler/compiler.h
	$(call say,CC,$<)
	$(Q)$(CC) $(GEN_CFLAGS) -c -o $@ $<

# ---- compiler, runtime, CLI -------------------------------------------------

RUNTIME_H := runtime/ganc.h runtime/io.h runtime/train.h runtime/scalar.h runtime/threads.h runtime/dist.h

$(B)/compiler/%.o: compiler/%.c compiler/compiler.h $(B)/parser.h $(RUNTIME_H)
	@mkdir -p $(@D)
	$(call say,CC,$<)
	$(Q)$(CC) $(ALL_CFLAGS) -c -o $@ $<

$(B)/jit/%.o: jit/%.c compiler/compiler.h $(B)/parser.h $(RUNTIME_H) runtime/kernels.h
	@mkdir -p $(@D)
	$(call say,CC,$<)
	$(Q)$(CC) $(ALL_CFLAGS) -c -o $@ $<

$(B)/cli/%.o: cli/%.c $(wildcard cli/*.h) compiler/compiler.h $(B)/parser.h $(RUNTIME_H)
	@mkdir -p $(@D)
	$(call say,CC,$<)
	$(Q)$(CC) $(ALL_CFLAGS) -c -o $@ $<

$(B)/runtime/%.o: runtime/%.c $(RUNTIME_H)
	@mkdir -p $(@D)
	$(call say,CC,$<)
	$(Q)$(CC) $(ALL_CFLAGS) $(HOT) -c -o $@ $<

# MPI's flags, remembered so that installing or removing it rebuilds dist.o.
$(B)/mpi.flags: FORCE
	@mkdir -p $(@D)
	@echo '$(MPI_CFLAGS)' | cmp -s - $@ || echo '$(MPI_CFLAGS)' > $@

$(B)/runtime/dist.o: $(B)/mpi.flags
$(B)/runtime/dist.o: HOT := $(MPI_CFLAGS)

# Adam runs over every parameter each step: vectorized (its sqrt sets no errno).
$(B)/runtime/adam.o: HOT := -O3 -fno-math-errno -ffp-contract=off

# runtime/kernels.inc is the arithmetic of every layer: the emitter copies it
# into generated code, the runtime compiles it for the JIT once per scalar
# type, always optimized, with a table of its kernels by name.
# tools/kernel_blocks lexes it into top-level items (what it cannot
# classify stops the build): kernel_blocks.h, the blocks for the emitter,
# and kernel_names.h, the KERNEL functions for the table.
$(B)/tools/kernel_blocks: tools/kernel_blocks.c
	@mkdir -p $(@D)
	$(call say,CC,$<)
	$(Q)$(CC) $(STD) $(CFLAGS) $(WARN) $(LDFLAGS) -o $@ $<

$(B)/kernel_blocks.h: runtime/kernels.inc $(B)/tools/kernel_blocks
	$(call say,GEN,$@)
	$(Q)$(B)/tools/kernel_blocks $< $@

$(B)/kernel_names.h: runtime/kernels.inc $(B)/tools/kernel_blocks
	$(call say,GEN,$@)
	$(Q)$(B)/tools/kernel_blocks --names $< $@

$(B)/runtime/kernels_%.o: runtime/kernels.c runtime/kernels.inc runtime/kernels.h $(B)/kernel_names.h
	@mkdir -p $(@D)
	$(call say,CC,$< [$*])
	$(Q)$(CC) $(ALL_CFLAGS) -O3 -ffp-contract=fast $(call kernel_march,$(word 2,$(subst _, ,$*))) \
	  -DGANC_KERNEL_SCALAR=$(if $(filter f32_%,$*),float,double) -DGANC_KERNEL_TABLE=ganc_kernels_$* -c -o $@ $<

$(B)/compiler/emit.o: $(B)/kernel_blocks.h

$(B)/libganc.a: $(LIB_OBJS)
	$(call say,AR,$@)
	$(Q)rm -f $@ && ar rcs $@ $^

$(B)/ganc: $(CLI:%=$(B)/cli/%.o) $(B)/libganc.a
	$(call say,LINK,$@)
	$(Q)$(CC) $(LDFLAGS) -o $@ $^ $(LIBS)

# The same ganc built without MPI, for the test that a build with it
# trains as one without does: only runtime/dist.c differs.
$(B)/runtime/dist_nompi.o: runtime/dist.c $(RUNTIME_H)
	$(call say,CC,$< [no MPI])
	$(Q)$(CC) $(ALL_CFLAGS) -c -o $@ $<

$(B)/tests/ganc-nompi: $(CLI:%=$(B)/cli/%.o) $(filter-out $(B)/runtime/dist.o,$(LIB_OBJS)) $(B)/runtime/dist_nompi.o
	@mkdir -p $(@D)
	$(call say,LINK,$@)
	$(Q)$(CC) $(LDFLAGS) -o $@ $^ $(filter-out $(MPI_LIBS),$(LIBS))

# ---- tests ------------------------------------------------------------------

$(B)/tests/%.o: tests/%.c tests/test.h tests/fixture.h compiler/compiler.h $(B)/parser.h $(RUNTIME_H)
	@mkdir -p $(@D)
	$(call say,CC,$<)
	$(Q)$(CC) $(ALL_CFLAGS) -Itests -c -o $@ $<

# Every kernel layout (runtime/kernels.inc: KERNEL_LAYOUT, GNU vectors of
# 64, 32 or 16 bytes, or plain C) built for the tests, whatever this CPU runs.
TEST_KERNEL_LAYOUTS := 64 32 16 0
TEST_KERNELS := $(foreach l,$(TEST_KERNEL_LAYOUTS),$(B)/tests/kernels_layout_$(l).o)

$(B)/tests/kernels_layout_%.o: runtime/kernels.c runtime/kernels.inc runtime/kernels.h $(B)/kernel_names.h
	@mkdir -p $(@D)
	$(call say,CC,$< [layout $*])
	$(Q)$(CC) $(ALL_CFLAGS) -O2 -Wno-psabi -DKERNEL_LAYOUT=$* -DGANC_KERNEL_SCALAR=float \
	  -DGANC_KERNEL_TABLE=ganc_test_kernels_layout_$* -c -o $@ $<

$(B)/tests/run: $(TESTS) $(TEST_KERNELS) $(B)/libganc.a
	$(call say,LINK,$@)
	$(Q)$(CC) $(LDFLAGS) -o $@ $(TESTS) $(TEST_KERNELS) $(B)/libganc.a -lcriterion $(LIBS)

# Installs what is missing first, so that `make test` works on a new machine.
test:
	@$(if $(MISSING_TEST),$(MAKE) --no-print-directory deps &&) \
	  $(MAKE) --no-print-directory $(B)/ganc $(B)/tests/run $(B)/tests/ganc-nompi && \
	  GANC=$(B)/ganc GANC_NOMPI=$(B)/tests/ganc-nompi KERNEL_BLOCKS=$(B)/tools/kernel_blocks \
	  GANC_TEST_CFLAGS='$(SAN)' LSAN_OPTIONS=suppressions=$(CURDIR)/tests/lsan.supp $(B)/tests/run --jobs 2

# ---- demo -------------------------------------------------------------------

DEMO := $(B)/demo

demo:
	@$(if $(MISSING_TEST),$(MAKE) --no-print-directory deps &&) \
	  $(MAKE) --no-print-directory $(B)/ganc
	@echo '== the model'
	$(B)/ganc summary models/ring8.gan
	@echo '== training it on eight Gaussians on a ring (compiled in memory with libtcc)'
	$(B)/ganc train models/ring8.gan --data ring8 --steps 5000 --batch 256 --lr 1e-3 --force -o $(DEMO)/ring8
	@echo '== the trained generator as standalone C, weights compiled in'
	$(B)/ganc emit models/ring8.gan --weights $(DEMO)/ring8/weights.safetensors -o $(DEMO)/c
	@printf '%s\n' '#include <stdio.h>' '#include "ring8.h"' \
	  'int main(void) {' '  float z[4][2] = {{0.3f, -1.2f}, {1.5f, 0.2f}, {-0.7f, 0.9f}, {-1.1f, -0.4f}}, x[2];' \
	  '  for (int i = 0; i < 4; i++) {' '    ring8_generate(ring8_weights, z[i], x);' \
	  '    printf("G(%5.2f, %5.2f) = (%6.3f, %6.3f)\n", z[i][0], z[i][1], x[0], x[1]);' '  }' \
	  '  return 0;' '}' > $(DEMO)/c/main.c
	$(CC) -std=c99 -O2 -Wall -Wextra -pedantic -Werror -o $(DEMO)/c/ring8 $(DEMO)/c/main.c $(DEMO)/c/ring8.c $(DEMO)/c/ring8_weights.c -lm
	$(DEMO)/c/ring8
	@echo '== samples over the real distribution: $(DEMO)/ring8/samples.png; the losses: $(DEMO)/ring8/loss.png'

# ---- benchmark (bench/run.sh writes bench/RESULTS.md) ----------------------

BENCH_PACKAGES := python3-torch python3-numpy libopenblas-dev

bench:
	@missing=$$(for p in $(BENCH_PACKAGES); do dpkg -s $$p >/dev/null 2>&1 || echo $$p; done); \
	  if [ -n "$$missing" ]; then $(if $(MISSING_TEST),$(MAKE) --no-print-directory deps &&) \
	    DEBIAN_FRONTEND=noninteractive apt-get install -y --no-install-recommends $$missing; fi
	@$(MAKE) --no-print-directory $(B)/ganc
	bash bench/run.sh $(B)/ganc

# ---- fuzzing (tests/fuzz/fuzz.mk: make fuzz FUZZ_SECONDS=N) --------------------

-include tests/fuzz/fuzz.mk

# ---- install ----------------------------------------------------------------

$(B)/ganc.pc: FORCE
	@mkdir -p $(B)
	@printf '%s\n' 'prefix=$(PREFIX)' 'libdir=$(LIBDIR)' 'includedir=$(INCDIR)' '' \
	  'Name: ganc' 'Description: compile generative adversarial networks to C' \
	  'Version: $(shell sed -n 's/^#define GANC_VERSION "\(.*\)"/\1/p' runtime/ganc.h)' \
	  'Cflags: -I$${includedir}' 'Libs: -L$${libdir} -lganc' \
	  'Libs.private: $(LDFLAGS) $(LIBS)' > $@

install: all $(B)/ganc.pc
	install -d $(DESTDIR)$(BINDIR) $(DESTDIR)$(INCDIR) $(DESTDIR)$(LIBDIR)/pkgconfig
	install -m 755 $(B)/ganc $(DESTDIR)$(BINDIR)/ganc
	install -m 644 runtime/ganc.h $(DESTDIR)$(INCDIR)/ganc.h
	install -m 644 $(B)/libganc.a $(DESTDIR)$(LIBDIR)/libganc.a
	install -m 644 $(B)/ganc.pc $(DESTDIR)$(LIBDIR)/pkgconfig/ganc.pc

uninstall:
	rm -f $(DESTDIR)$(BINDIR)/ganc $(DESTDIR)$(INCDIR)/ganc.h \
	  $(DESTDIR)$(LIBDIR)/libganc.a $(DESTDIR)$(LIBDIR)/pkgconfig/ganc.pc

clean:
	rm -rf build
