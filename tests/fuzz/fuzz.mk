# tests/fuzz/fuzz.mk — libFuzzer targets, included by the Makefile.
#
#   make fuzz               build every target, run each for FUZZ_SECONDS (60);
#                           fails if any of them finds a crash
#   make fuzz-NAME          run one: front, safetensors, idx, csv
#   make fuzz-build         build them only
#
# A target and every object of the compiler and runtime it calls are built
# with clang, libFuzzer, ASan and UBSan into $(FUZZ). Each runs on its own
# corpus $(FUZZ)/corpus/NAME: the committed seeds are copied in before every
# run, and what the fuzzer adds stays there for the next. Inputs that crash
# are written to $(FUZZ)/crashes/NAME-*; a run's output is $(FUZZ)/NAME.log.
# Needs clang and libclang-rt-14-dev (the fuzzer and sanitizer runtimes).

FUZZ_CC      ?= clang
FUZZ_SECONDS ?= 60
FUZZ         := $(B)/fuzz
FUZZ_TARGETS := front safetensors idx csv

FUZZ_SAN     := -fsanitize=address,undefined -fno-sanitize-recover=all -fno-omit-frame-pointer
FUZZ_CFLAGS  := $(STD) $(INCS) -I$(B) -Itests/fuzz -O1 -g $(FUZZ_SAN) -fsanitize=fuzzer-no-link
# Our own sources build with the warning list; flex and bison output as the
# Makefile builds it, and warnings clang adds to the project's code do not
# stop a fuzzing run.
FUZZ_WARN    := $(filter-out -Werror,$(WARN))
FUZZ_GEN_WARN := -Wall -Wno-unused-function -Wno-sign-compare

# Generated headers the compiler's sources include.
FUZZ_GEN := $(B)/parser.h $(B)/kernel_blocks.h

FUZZ_COMPILER := $(FUZZ)/parser.o $(FUZZ)/lexer.o $(COMPILER:%=$(FUZZ)/compiler/%.o) $(FUZZ)/runtime/api.o
FUZZ_DATA     := $(FUZZ)/fuzz_data.o $(FUZZ)/runtime/data.o $(FUZZ)/runtime/safetensors.o \
                 $(FUZZ)/runtime/rng.o $(FUZZ)/runtime/api.o

# Besides $(FUZZ)/fuzz_NAME.o:
FUZZ_OBJS_front       := $(FUZZ_COMPILER)
FUZZ_OBJS_safetensors := $(FUZZ)/runtime/safetensors.o $(FUZZ_COMPILER)
FUZZ_OBJS_idx         := $(FUZZ_DATA)
FUZZ_OBJS_csv         := $(FUZZ_DATA)
FUZZ_LIBS_front       := -lm
FUZZ_LIBS_safetensors := -lcjson -lm
FUZZ_LIBS_idx         := -lcjson -lz -lm
FUZZ_LIBS_csv         := -lcjson -lz -lm

# Seeds: folders are copied file by file, files as they are.
FUZZ_SEEDS_front       := tests/fuzz/corpus/front $(wildcard models/*.gan tests/models/*.gan tests/errors/*.gan)
FUZZ_SEEDS_safetensors := tests/fuzz/corpus/safetensors tests/fixtures/torch_ring8.safetensors
FUZZ_SEEDS_idx         := tests/fuzz/corpus/idx
FUZZ_SEEDS_csv         := tests/fuzz/corpus/csv
FUZZ_ARGS_front        := -dict=tests/fuzz/gan.dict

# -timeout: an input that takes this long is reported as a hang.
FUZZ_RUN_ARGS = -max_total_time=$(FUZZ_SECONDS) -timeout=20 -print_final_stats=1

.PHONY: fuzz fuzz-build check-fuzz-deps $(FUZZ_TARGETS:%=fuzz-%)

fuzz: fuzz-build
	@failed=; for t in $(FUZZ_TARGETS); do \
	  $(MAKE) --no-print-directory fuzz-$$t || failed="$$failed $$t"; \
	done; \
	if [ -n "$$failed" ]; then \
	  echo "fuzz: crashes in:$$failed (inputs in $(FUZZ)/crashes/, output in $(FUZZ)/NAME.log)"; exit 1; \
	fi

fuzz-build: check-fuzz-deps $(FUZZ_TARGETS:%=$(FUZZ)/fuzz_%)

check-fuzz-deps:
	@printf 'int LLVMFuzzerTestOneInput(const char *d, long n) { return d[0] + (int)n; }\n' | \
	  $(FUZZ_CC) -fsanitize=fuzzer,address,undefined -x c - -o /dev/null 2>/dev/null || { \
	  echo "fuzz: $(FUZZ_CC) cannot build libFuzzer targets; install clang and libclang-rt-14-dev"; \
	  exit 1; }

$(FUZZ_TARGETS:%=fuzz-%): fuzz-%: $(FUZZ)/fuzz_%
	@mkdir -p $(FUZZ)/corpus/$* $(FUZZ)/crashes
	@for s in $(FUZZ_SEEDS_$*); do \
	  if [ -d "$$s" ]; then cp "$$s"/* $(FUZZ)/corpus/$*/; \
	  else cp "$$s" "$(FUZZ)/corpus/$*/$$(echo "$$s" | tr / -)"; fi; \
	done
	$(call say,FUZZ,$*)
	$(Q)if $< $(FUZZ_RUN_ARGS) $(FUZZ_ARGS_$*) -artifact_prefix=$(FUZZ)/crashes/$*- \
	    $(FUZZ)/corpus/$* > $(FUZZ)/$*.log 2>&1; then \
	  grep -E '^#[0-9]+[[:space:]]+DONE' $(FUZZ)/$*.log | sed 's/^/  /'; \
	  grep -E '^stat::(number_of_executed_units|peak_rss_mb)' $(FUZZ)/$*.log | sed 's/^/  /'; \
	else \
	  tail -n 60 $(FUZZ)/$*.log; echo "fuzz: $* failed; see $(FUZZ)/$*.log"; exit 1; \
	fi

$(FUZZ)/fuzz_front: $(FUZZ_OBJS_front)
$(FUZZ)/fuzz_safetensors: $(FUZZ_OBJS_safetensors)
$(FUZZ)/fuzz_idx: $(FUZZ_OBJS_idx)
$(FUZZ)/fuzz_csv: $(FUZZ_OBJS_csv)

$(FUZZ_TARGETS:%=$(FUZZ)/fuzz_%): $(FUZZ)/fuzz_%: $(FUZZ)/fuzz_%.o
	$(call say,LINK,$@)
	$(Q)$(FUZZ_CC) $(FUZZ_SAN) -fsanitize=fuzzer -o $@ $^ $(FUZZ_LIBS_$*)

$(FUZZ)/parser.o: $(B)/parser.c $(B)/parser.h compiler/compiler.h
	@mkdir -p $(@D)
	$(call say,CC,$@)
	$(Q)$(FUZZ_CC) $(FUZZ_CFLAGS) $(FUZZ_GEN_WARN) -c -o $@ $<

$(FUZZ)/lexer.o: $(B)/lexer.c $(B)/parser.h compiler/compiler.h
	@mkdir -p $(@D)
	$(call say,CC,$@)
	$(Q)$(FUZZ_CC) $(FUZZ_CFLAGS) $(FUZZ_GEN_WARN) -c -o $@ $<

$(FUZZ)/compiler/%.o: compiler/%.c compiler/compiler.h $(FUZZ_GEN)
	@mkdir -p $(@D)
	$(call say,CC,$@)
	$(Q)$(FUZZ_CC) $(FUZZ_CFLAGS) $(FUZZ_WARN) -c -o $@ $<

$(FUZZ)/runtime/%.o: runtime/%.c runtime/ganc.h runtime/io.h
	@mkdir -p $(@D)
	$(call say,CC,$@)
	$(Q)$(FUZZ_CC) $(FUZZ_CFLAGS) $(FUZZ_WARN) -c -o $@ $<

$(FUZZ)/%.o: tests/fuzz/%.c tests/fuzz/fuzz_data.h runtime/ganc.h runtime/io.h compiler/compiler.h \
             $(B)/parser.h
	@mkdir -p $(@D)
	$(call say,CC,$@)
	$(Q)$(FUZZ_CC) $(FUZZ_CFLAGS) $(WARN) -c -o $@ $<
