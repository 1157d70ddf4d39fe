# herald - build.  `make` builds build/herald; `make SAN=1` builds the
# AddressSanitizer + UBSan variant in build-san/; `make check` runs the tests.
CC      ?= cc
# gmodule-no-export: html2text.c's module (libxml2) needs no symbol of
# herald's, and exporting them all (8,700 with OpenSSL linked in, below)
# would let a loaded library bind to herald's copy of OpenSSL.
PKGS    := glib-2.0 gio-2.0 gmodule-no-export-2.0 gmime-3.0 libidn2 libsodium libpsl zlib \
           json-glib-1.0 libmicrohttpd \
           openssl sqlite3
# libxml2: its headers only; html2text.c opens the library on first use.
HDR_PKGS := libxml-2.0
WARN    := -Wall -Wextra -Wformat=2 -Wstrict-prototypes -Wmissing-prototypes \
           -fno-common -Wshadow -Wno-unused-parameter
ifdef WERROR
WARN    += -Werror
endif
ifdef SAN
BUILD   ?= build-san
OPT     := -O1 -g -fsanitize=address,undefined -fno-omit-frame-pointer \
           -fno-sanitize-recover=undefined
else
BUILD   ?= build
OPT     := -O2 -g
endif
# VARDIR: the var dir herald uses without --var or $HERALD_VAR.
VARDIR  ?= /var/lib/herald
CFLAGS  := -std=c17 -D_GNU_SOURCE $(OPT) $(WARN) -Isrc/lib \
           -DHERALD_DEFAULT_VAR='"$(VARDIR)"' \
           $(shell pkg-config --cflags $(PKGS) $(HDR_PKGS))
# OpenSSL and libsodium are linked statically: herald alone uses them, and
# as shared libraries their relocations and symbol lookups cost every herald
# process about a fifth of its start-up (the MTA's pipe runs one process a
# message; docs/PERFORMANCE.md, "Small posts against mlmmj").  The rest
# stays shared: GMime, GIO and GLib must share one GLib.
STATIC_PKGS := openssl libsodium
LDLIBS  := $(shell pkg-config --libs $(filter-out $(STATIC_PKGS),$(PKGS))) \
           -Wl,-Bstatic $(shell pkg-config --libs-only-l $(STATIC_PKGS)) \
           -Wl,-Bdynamic -ldl -pthread -lresolv -lm
LDFLAGS := $(filter -fsanitize=%,$(OPT))

LIB_SRC    := $(wildcard src/lib/*/*.c)
HERALD_SRC := $(wildcard src/herald/*.c)
UNIT_SRC   := $(wildcard tests/unit/test-*.c)
BENCH_SRC  := $(wildcard bench/bench-*.c)

LIB_OBJ    := $(LIB_SRC:%.c=$(BUILD)/%.o)
HERALD_OBJ := $(HERALD_SRC:%.c=$(BUILD)/%.o)
UNIT_BIN   := $(UNIT_SRC:tests/unit/%.c=$(BUILD)/tests/%)
BENCH_BIN  := $(BENCH_SRC:bench/%.c=$(BUILD)/bench/%)

# herald-mta (src/mta/): the MTA's pipe, handing messages to the master's
# LMTP server; it links the C library alone (and from libherald.a only
# entry/pipe_socket.o), so that it starts as fast as a process can.
MTA_OBJ    := $(BUILD)/src/mta/main.o $(BUILD)/src/mta/handoff.o

TOOL_SRC   := $(wildcard tests/tools/*.c)
TOOL_BIN   := $(TOOL_SRC:tests/tools/%.c=$(BUILD)/tests/%)

all: $(BUILD)/herald $(BUILD)/herald-mta $(UNIT_BIN) $(TOOL_BIN) $(BUILD)/tests/nfsfault.so man
bench: $(BENCH_BIN)

# The built-in templates (templates/<lang>/<name>.txt, docs/templates.md)
# go into the library as a GResource: glib-compile-resources writes its C
# file into the build dir, compiled without herald's warnings (generated
# code, with no prototypes of its own).
TMPL_XML   := templates/herald.gresource.xml
TMPL_FILES := $(wildcard templates/*/*.txt templates/web/*.html templates/web/*.css \
                templates/web/i18n/*.txt)
TMPL_OBJ   := $(BUILD)/gen/templates.o

%/gen/templates.c: $(TMPL_XML) $(TMPL_FILES)
	@mkdir -p $(dir $@)
	glib-compile-resources --sourcedir=templates --generate-source \
		--c-name herald_templates --target=$@ $(TMPL_XML)

$(TMPL_OBJ): $(BUILD)/gen/templates.c
	$(CC) $(OPT) $(shell pkg-config --cflags gio-2.0) -c -o $@ $<

$(BUILD)/libherald.a: $(LIB_OBJ) $(TMPL_OBJ)
	ar rcs $@ $^

$(BUILD)/herald: $(HERALD_OBJ) $(BUILD)/libherald.a
	$(CC) $(LDFLAGS) -o $@ $^ $(LDLIBS)

$(BUILD)/herald-mta: $(MTA_OBJ) $(BUILD)/libherald.a
	$(CC) $(LDFLAGS) -o $@ $^

$(BUILD)/tests/%: tests/unit/%.c tests/unit/testutil.h $(BUILD)/libherald.a
	@mkdir -p $(dir $@)
	$(CC) $(CFLAGS) $(LDFLAGS) -o $@ $< $(BUILD)/libherald.a $(LDLIBS)

$(BUILD)/tests/%: tests/tools/%.c $(BUILD)/libherald.a
	@mkdir -p $(dir $@)
	$(CC) $(CFLAGS) $(LDFLAGS) -o $@ $< $(BUILD)/libherald.a $(LDLIBS)

# The fault shim is never sanitized: it is preloaded into other programs.
$(BUILD)/tests/nfsfault.so: tests/shim/nfsfault.c
	@mkdir -p $(dir $@)
	$(CC) -std=c17 -D_GNU_SOURCE -O2 -g -Wall -Wextra -fPIC -shared -o $@ $< -ldl

$(BUILD)/bench/%: bench/%.c $(BUILD)/libherald.a
	@mkdir -p $(dir $@)
	$(CC) $(CFLAGS) $(LDFLAGS) -o $@ $< $(BUILD)/libherald.a $(LDLIBS)

$(BUILD)/%.o: %.c $(wildcard src/lib/*/*.h src/herald/*.h)
	@mkdir -p $(dir $@)
	$(CC) $(CFLAGS) -c -o $@ $<

# The tests run twice: against the normal build and the sanitizer build.
check:
	$(MAKE) all
	$(MAKE) SAN=1 all
	HERALD_BUILDS="build build-san" tests/run

clean:
	rm -rf build build-san

# The man pages are made from the built program (scripts/gen-man.py):
# herald(8) and herald-COMMAND(8) from the --help texts, herald.conf(5)
# from `herald site doc`, so that they cannot say other than the program.
MAN_DIR := $(BUILD)/man
man: $(MAN_DIR)/.stamp

$(MAN_DIR)/.stamp: $(BUILD)/herald scripts/gen-man.py
	rm -rf $(MAN_DIR)
	python3 scripts/gen-man.py $(BUILD)/herald $(MAN_DIR)
	touch $@

# `make install`: PREFIX (/usr/local), DESTDIR (packaging), and where the
# system's files go.  The var dir (VARDIR, /var/lib/herald) holds the
# configuration (etc/herald.conf): /etc/herald links to it, so that every
# host of a shared var dir reads the same settings.
PREFIX     ?= /usr/local
SBINDIR    ?= $(PREFIX)/sbin
DATADIR    ?= $(PREFIX)/share/herald
MANDIR     ?= $(PREFIX)/share/man
SYSCONFDIR ?= /etc
UNITDIR    ?= $(PREFIX)/lib/systemd/system
INSTALL    ?= install
# The log files: one per subsystem (the *_SUBSYS names in the source).
LOG_FILES  := $(patsubst %,$(VARDIR)/logs/*/%,$(sort $(shell \
	sed -n 's/^\#define [A-Z_]*SUBSYS "\([a-z-]*\)".*/\1/p' $(LIB_SRC) $(HERALD_SRC) $(wildcard src/lib/*/*.h src/herald/*.h))))

install: $(BUILD)/herald $(BUILD)/herald-mta man
	$(INSTALL) -d $(DESTDIR)$(SBINDIR) $(DESTDIR)$(DATADIR)/templates \
		$(DESTDIR)$(MANDIR)/man5 $(DESTDIR)$(MANDIR)/man8 \
		$(DESTDIR)$(UNITDIR) $(DESTDIR)$(SYSCONFDIR)/logrotate.d \
		$(DESTDIR)$(VARDIR)
	$(INSTALL) -m 0755 $(BUILD)/herald $(DESTDIR)$(SBINDIR)/herald
	$(INSTALL) -m 0755 $(BUILD)/herald-mta $(DESTDIR)$(SBINDIR)/herald-mta
	cp -R templates/. $(DESTDIR)$(DATADIR)/templates/
	$(INSTALL) -m 0644 $(MAN_DIR)/*.5 $(DESTDIR)$(MANDIR)/man5/
	$(INSTALL) -m 0644 $(MAN_DIR)/*.8 $(DESTDIR)$(MANDIR)/man8/
	sed -e 's|@SBINDIR@|$(SBINDIR)|g' -e 's|@VARDIR@|$(VARDIR)|g' \
		dist/herald.service.in >$(DESTDIR)$(UNITDIR)/herald.service
	chmod 0644 $(DESTDIR)$(UNITDIR)/herald.service
	sed -e "s|@LOGS@|$(LOG_FILES)|" dist/herald.logrotate.in \
		>$(DESTDIR)$(SYSCONFDIR)/logrotate.d/herald
	chmod 0644 $(DESTDIR)$(SYSCONFDIR)/logrotate.d/herald
	ln -sfn $(VARDIR)/etc $(DESTDIR)$(SYSCONFDIR)/herald

uninstall:
	rm -f $(DESTDIR)$(SBINDIR)/herald $(DESTDIR)$(SBINDIR)/herald-mta \
		$(DESTDIR)$(UNITDIR)/herald.service \
		$(DESTDIR)$(SYSCONFDIR)/logrotate.d/herald \
		$(DESTDIR)$(MANDIR)/man5/herald.conf.5 \
		$(DESTDIR)$(MANDIR)/man8/herald.8 $(DESTDIR)$(MANDIR)/man8/herald-*.8
	rm -rf $(DESTDIR)$(DATADIR)
	[ ! -L $(DESTDIR)$(SYSCONFDIR)/herald ] || rm $(DESTDIR)$(SYSCONFDIR)/herald

# `make deb`: the Debian package (debian/), built from this tree into ../
deb:
	dpkg-buildpackage -b -us -uc

.PHONY: all bench check clean man install uninstall deb
.SECONDARY:

# `make fuzz`: the libFuzzer targets (fuzz/fuzz-message.c and
# fuzz/fuzz-lmtp.c, docs/fuzzing.md), with clang, ASan and UBSan, in
# build-fuzz/.  The library is compiled again there with coverage
# instrumentation; the other rules are untouched.
FUZZ_CC     ?= clang
FUZZ_BUILD  := build-fuzz
FUZZ_OPT    := -O1 -g -fno-omit-frame-pointer -fsanitize=address,undefined \
               -fno-sanitize-recover=undefined
FUZZ_CFLAGS := -std=c17 -D_GNU_SOURCE $(FUZZ_OPT) $(WARN) -Isrc/lib \
               $(shell pkg-config --cflags $(PKGS) $(HDR_PKGS))
FUZZ_LIB_OBJ := $(LIB_SRC:%.c=$(FUZZ_BUILD)/%.o) $(FUZZ_BUILD)/gen/templates.o

fuzz: $(FUZZ_BUILD)/fuzz-message $(FUZZ_BUILD)/fuzz-lmtp $(FUZZ_BUILD)/fuzz-pickle

$(FUZZ_BUILD)/fuzz-message: fuzz/fuzz-message.c $(FUZZ_LIB_OBJ)
	$(FUZZ_CC) $(FUZZ_CFLAGS) -fsanitize=fuzzer -o $@ $^ $(LDLIBS)

# The LMTP session state machine (fuzz/fuzz-lmtp.c, fuzz/run-lmtp.sh).
$(FUZZ_BUILD)/fuzz-lmtp: fuzz/fuzz-lmtp.c $(FUZZ_LIB_OBJ)
	$(FUZZ_CC) $(FUZZ_CFLAGS) -fsanitize=fuzzer -o $@ $^ $(LDLIBS)

# The safe pickle reader (fuzz/fuzz-pickle.c; seeds tests/data/mailman2/).
$(FUZZ_BUILD)/fuzz-pickle: fuzz/fuzz-pickle.c $(FUZZ_LIB_OBJ)
	$(FUZZ_CC) $(FUZZ_CFLAGS) -fsanitize=fuzzer -o $@ $^ $(LDLIBS)

$(filter-out $(FUZZ_BUILD)/gen/%,$(FUZZ_LIB_OBJ)): $(FUZZ_BUILD)/%.o: %.c $(wildcard src/lib/*/*.h)
	@mkdir -p $(dir $@)
	$(FUZZ_CC) $(FUZZ_CFLAGS) -fsanitize=fuzzer-no-link -c -o $@ $<

$(FUZZ_BUILD)/gen/templates.o: $(FUZZ_BUILD)/gen/templates.c
	$(FUZZ_CC) $(FUZZ_OPT) $(shell pkg-config --cflags gio-2.0) -c -o $@ $<

.PHONY: fuzz
