# ft — GNU Makefile.  `make` builds libft.a and every cmd/ft-*.c; `make check`
# builds and runs all tests; `make demo` runs examples/sonnets end to end.
# `make check SAN=1` does the same with AddressSanitizer + UBSan.
# Missing system packages are installed on the first run (apt-get, as root).

PREFIX  ?= /usr/local
DESTDIR ?=
BINDIR   = $(PREFIX)/bin
MANDIR   = $(PREFIX)/share/man
CC      ?= cc
FUZZ_CC ?= clang
FUZZ_SECONDS ?= 60
V ?= 0

# What the build and the tests need, as "test:Debian-package" pairs: a
# command on PATH, a pkg-config module (pc/NAME) or a file (/path).
NEEDS = cmd/pkg-config:pkg-config pc/openblas:libopenblas-dev \
	pc/libcjson:libcjson-dev pc/libzstd:libzstd-dev \
	pc/libcurl:libcurl4-openssl-dev pc/oniguruma:libonig-dev \
	cmd/zstd:zstd cmd/mandoc:mandoc \
	cmd/clang:clang cmd/python3:python3 cmd/npm:npm \
	pc/ompi-c:libopenmpi-dev cmd/mpirun:openmpi-bin \
	/usr/lib/llvm-14/lib/clang/14.0.6/lib/linux/libclang_rt.fuzzer-x86_64.a:libclang-rt-14-dev
PKGS = libzstd libcjson openblas libcurl oniguruma
# MPI (lib/dist.c, linked into ft-train only): the system's default
# implementation through Debian's mpi-c alternative (Open MPI, or MPICH).
MPI_PKG = mpi-c

# oneDNN (bf16 matmuls) has no .pc: its header is the test; lib/bf16.c
# loads libdnnl.so.2 at run time (SAN=1 builds link it).
NEEDS += /usr/include/oneapi/dnnl/dnnl.h:libdnnl-dev
# examples/forgetting records each run's peak RSS with GNU time
NEEDS += /usr/bin/time:time

ifeq ($(SAN),1)
B = build/san
SANFLAGS = -fsanitize=address,undefined -fno-sanitize-recover=undefined \
	-fno-omit-frame-pointer
# LeakSanitizer cannot walk a dlopen'd oneDNN's thread-local storage
SANDEFS = -DFT_DNNL_LINKED
SANLIBS = -ldnnl -lgomp
OPT = -O1
else
B = build
SANFLAGS =
SANDEFS =
SANLIBS =
OPT = -O2
endif

ifeq ($(V),1)
Q =
else
Q = @
endif

BASE_CFLAGS = -std=c11 -D_GNU_SOURCE -g $(OPT) -pthread \
	-Wall -Wextra -Werror -Wno-unused-parameter -Ilib $(SANFLAGS) $(SANDEFS)
ALL_CFLAGS = $(BASE_CFLAGS) $(PKG_CFLAGS) $(CFLAGS)
ALL_LDFLAGS = $(SANFLAGS) -pthread $(LDFLAGS)
ALL_LDLIBS = $(PKG_LIBS) $(SANLIBS) -lm -ldl $(LDLIBS)

LIB_SRC  = $(sort $(wildcard lib/*.c lib/model/*.c))
LIB_OBJ  = $(patsubst lib/%.c,$(B)/lib/%.o,$(LIB_SRC))
CMD_SRC  = $(sort $(wildcard cmd/ft-*.c))
BINS     = $(patsubst cmd/%.c,$(B)/bin/%,$(CMD_SRC))
UNIT_SRC = $(sort $(wildcard tests/unit/test_*.c))
UNITS    = $(patsubst tests/unit/%.c,$(B)/tests/%,$(UNIT_SRC))
FUZZ_SRC = $(sort $(wildcard tests/fuzz/fuzz_*.c))
FUZZERS  = $(patsubst tests/fuzz/%.c,build/fuzz/%,$(FUZZ_SRC))
MANS     = $(sort $(wildcard man/*.[157]))

NOCONFIG_GOALS = clean help
ifeq ($(filter-out $(NOCONFIG_GOALS),$(or $(MAKECMDGOALS),all)),)
else
include build/config.mk
endif

.PHONY: all check demo fuzz install uninstall clean help lint bench
.DEFAULT_GOAL := all

all: $(BINS)

help:
	@echo "make             build libft.a and the tools into $(B)/bin"
	@echo "make check       build and run every test (SAN=1: sanitizers)"
	@echo "make demo        run the sonnets example end to end"
	@echo "make fuzz        run each libFuzzer target FUZZ_SECONDS seconds"
	@echo "make install     install tools and man pages (PREFIX, DESTDIR)"
	@echo "make clean       remove build outputs"

# Find (or install) the system packages, then record the compiler flags.
build/config.mk: Makefile
	@mkdir -p build
	@missing=""; \
	for n in $(NEEDS); do t=$${n%%:*}; p=$${n#*:}; \
		case $$t in \
		cmd/*) command -v $${t#cmd/} >/dev/null 2>&1 ;; \
		pc/*) pkg-config --exists $${t#pc/} 2>/dev/null ;; \
		*) [ -e $$t ] ;; \
		esac || missing="$$missing $$p"; \
	done; \
	if [ -n "$$missing" ]; then \
		if [ "$$(id -u)" = 0 ] && command -v apt-get >/dev/null; then \
			echo "ft: installing:$$missing"; \
			{ apt-get update -q && DEBIAN_FRONTEND=noninteractive \
			  apt-get install -y -q --no-install-recommends $$missing; } >build/apt.log 2>&1 \
			  || { cat build/apt.log; echo "ft: apt-get failed (log: build/apt.log)"; exit 1; }; \
		else \
			echo "ft: missing packages; run:"; \
			echo "  sudo apt-get install$$missing"; exit 1; \
		fi; \
	fi
	@pkg-config --exists $(PKGS) $(MPI_PKG) || { echo "ft: pkg-config cannot find: $(PKGS) $(MPI_PKG)"; exit 1; }
	@{ echo "PKG_CFLAGS = $$(pkg-config --cflags $(PKGS))"; \
	   echo "PKG_LIBS = $$(pkg-config --libs $(PKGS))"; \
	   echo "MPI_CFLAGS = $$(pkg-config --cflags $(MPI_PKG))"; \
	   echo "MPI_LIBS = $$(pkg-config --libs $(MPI_PKG))"; } > $@.tmp && mv $@.tmp $@

$(B)/lib/%.o: lib/%.c build/config.mk
	@mkdir -p $(@D)
	@[ "$(V)" = 1 ] || echo "  CC      $<"
	$(Q)$(CC) $(ALL_CFLAGS) -MMD -MP -c -o $@ $<

# Only lib/dist.c includes mpi.h; only the tools that use it link MPI.
$(B)/lib/dist.o: ALL_CFLAGS += $(MPI_CFLAGS)
MPI_BINS = $(B)/bin/ft-train
$(MPI_BINS): ALL_LDLIBS += $(MPI_LIBS)

$(B)/libft.a: $(LIB_OBJ)
	@[ "$(V)" = 1 ] || echo "  AR      $@"
	$(Q)rm -f $@ && ar rcs $@ $^

$(B)/cmd/%.o: cmd/%.c build/config.mk
	@mkdir -p $(@D)
	@[ "$(V)" = 1 ] || echo "  CC      $<"
	$(Q)$(CC) $(ALL_CFLAGS) -MMD -MP -c -o $@ $<

$(B)/bin/%: $(B)/cmd/%.o $(B)/libft.a
	@mkdir -p $(@D)
	@[ "$(V)" = 1 ] || echo "  LD      $@"
	$(Q)$(CC) $(ALL_LDFLAGS) -o $@ $< $(B)/libft.a $(ALL_LDLIBS)

$(B)/tests/%.o: tests/unit/%.c build/config.mk
	@mkdir -p $(@D)
	$(Q)$(CC) $(ALL_CFLAGS) -Itests/unit -MMD -MP -c -o $@ $<

$(B)/tests/%: $(B)/tests/%.o $(B)/libft.a
	$(Q)$(CC) $(ALL_LDFLAGS) -o $@ $< $(B)/libft.a $(ALL_LDLIBS)

# libFuzzer targets: each links the library sources rebuilt with clang.
FUZZ_FLAGS = -std=c11 -D_GNU_SOURCE -g -O1 -Ilib -fsanitize=fuzzer,address,undefined $(PKG_CFLAGS) $(MPI_CFLAGS)
build/fuzz/%: tests/fuzz/%.c $(LIB_SRC) build/config.mk
	@mkdir -p $(@D)
	@[ "$(V)" = 1 ] || echo "  FUZZ    $@"
	$(Q)$(FUZZ_CC) $(FUZZ_FLAGS) -o $@ $< $(LIB_SRC) $(PKG_LIBS) $(MPI_LIBS) -lm -ldl -pthread

check: $(BINS) $(UNITS) $(if $(SAN),,$(FUZZERS))
	@FT_BIN=$(CURDIR)/$(B)/bin FT_BUILD=$(CURDIR)/$(B) FT_SAN=$(SAN) \
	FT_FUZZ=$(if $(SAN),,$(CURDIR)/build/fuzz) sh tests/run.sh

fuzz: $(FUZZERS)
	@for f in $(FUZZERS); do n=$$(basename $$f); \
		mkdir -p build/fuzz-corpus/$$n; \
		echo "fuzz: $$n for $(FUZZ_SECONDS)s"; \
		$$f -max_total_time=$(FUZZ_SECONDS) build/fuzz-corpus/$$n tests/fuzz/corpus/$$n || exit 1; \
	done

lint:
	mandoc -Tlint -Wwarning $(MANS)

demo: $(BINS)
	$(MAKE) -C examples/sonnets FT_BIN=$(CURDIR)/$(B)/bin

bench: $(BINS)
	@for b in tests/bench/*; do case $$b in *.c|*.py) continue;; esac; \
		[ -x "$$b" ] && FT_BIN=$(CURDIR)/$(B)/bin "$$b"; done; true

install: $(BINS)
	install -d $(DESTDIR)$(BINDIR) $(DESTDIR)$(MANDIR)/man1 $(DESTDIR)$(MANDIR)/man5 $(DESTDIR)$(MANDIR)/man7
	install -m 755 $(BINS) $(DESTDIR)$(BINDIR)
	for m in $(MANS); do s=$${m##*.}; install -m 644 $$m $(DESTDIR)$(MANDIR)/man$$s; done

uninstall:
	for b in $(notdir $(BINS)); do rm -f $(DESTDIR)$(BINDIR)/$$b; done
	for m in $(notdir $(MANS)); do s=$${m##*.}; rm -f $(DESTDIR)$(MANDIR)/man$$s/$$m; done

clean:
	rm -rf build
	-@for e in examples/*/; do $(MAKE) -s -C $$e clean; done

-include $(wildcard $(B)/lib/*.d $(B)/lib/model/*.d $(B)/cmd/*.d $(B)/tests/*.d)
.SECONDARY:
