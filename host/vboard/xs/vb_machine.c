/*
 * The XS machine of the virtual board: creation with ESP32-like parameters,
 * the platform hooks XS requires (memory, promise queue, abort), the
 * globals the firmware expects from Moddable (trace, native, Native), the
 * panic path and the memory statistics.
 */
#include "xsAll.h"
#include "xs.h"
#include "vb_host.h"

#include <dlfcn.h>
#include <fcntl.h>
#include <pthread.h>

/* ESP32-like creation parameters; the Makefile may override them. XS
   collects when fewer slots than a growth step are free, so a smaller slot
   step means more collections: 256 slots made a download in 1-byte chunks
   spend a third of its time marking the heap. */
#ifndef VB_XS_CHUNK_INITIAL
#define VB_XS_CHUNK_INITIAL (32 * 1024)
#endif
#ifndef VB_XS_CHUNK_INCREMENT
#define VB_XS_CHUNK_INCREMENT (16 * 1024)
#endif
#ifndef VB_XS_HEAP_INITIAL
#define VB_XS_HEAP_INITIAL 4096
#endif
#ifndef VB_XS_HEAP_INCREMENT
#define VB_XS_HEAP_INCREMENT 2048
#endif
#ifndef VB_XS_STACK
#define VB_XS_STACK 2048
#endif
#ifndef VB_XS_KEYS_INITIAL
#define VB_XS_KEYS_INITIAL 2048
#endif
#ifndef VB_XS_KEYS_INCREMENT
#define VB_XS_KEYS_INCREMENT 512
#endif

static txMachine *gMachine;     /* one machine per process: one boot */

/*
 * XS's fxCStackLimit (Linux) asks glibc for the thread's stack each time it
 * compiles a regular expression, and glibc answers for the main thread by
 * reading and parsing /proc/self/maps: 14% of the board's instructions in
 * a push of OTA.Write requests (bench/work-per-byte.ts), a cost the device,
 * which asks FreeRTOS, does not have. The machine runs on one thread whose
 * stack does not move, so its first answer is kept (the link wraps the
 * symbol: host/vboard/Makefile).
 */
int __real_pthread_getattr_np(pthread_t thread, pthread_attr_t *attr);
int __wrap_pthread_getattr_np(pthread_t thread, pthread_attr_t *attr);

int __wrap_pthread_getattr_np(pthread_t thread, pthread_attr_t *attr)
{
	static int known;
	static pthread_t knownThread;
	static void *stack;
	static size_t stackSize;
	int error;
	if (known && pthread_equal(thread, knownThread))
		return pthread_attr_setstack(attr, stack, stackSize);
	error = __real_pthread_getattr_np(thread, attr);
	if (!error && !known && pthread_attr_getstack(attr, &stack, &stackSize) == 0) {
		known = 1;
		knownThread = thread;
	}
	return error;
}
static int gPanicking;

/* ---- memory: every slot and chunk block goes through here ---- */

/*
 * The heap is counted as the ESP32 would count it, on either build: a slot
 * is charged XS_OTA_HEAP_SLOT_BYTES (16, the ESP32's txSlot) even where the
 * 64-bit build's slots take 32, so --mem-limit buys the same number of slots
 * as the device's budget. Chunks are charged what they take here; on the
 * 64-bit build they run about 1.5x the 32-bit figure (pointers inside
 * them), which makes that build the stricter one, never the laxer.
 */
#ifndef XS_OTA_HEAP_SLOT_BYTES
#error "XS_OTA_HEAP_SLOT_BYTES (the ESP32's slot size) comes from host/vboard/Makefile"
#endif

/* A header in front of each block records what it was charged, for fxFree*.
   max_align_t keeps malloc's alignment. */
typedef union { size_t charged; max_align_t align; } vb_block_header;

static size_t gMemLimit;       /* --mem-limit; 0 = no cap */
static size_t gMemCharged;     /* what the blocks in use are charged */
/* What the fresh machine holds before the firmware runs: XS's built-in
   objects (Object, Array, RegExp...), which xsl links into flash on the
   device. The board creates them in its heap at every boot, so they are
   counted as flash, not RAM: --mem-limit caps what comes on top. */
static size_t gRomBytes;

static void *vb_alloc(size_t size, size_t charged)
{
	vb_block_header *block;
	if (gMemLimit && (charged > gMemLimit + gRomBytes || gMemCharged > gMemLimit + gRomBytes - charged))
		return NULL;        /* XS then collects garbage and, failing that, aborts with "memory full" */
	block = malloc(sizeof(*block) + size);
	if (!block)
		return NULL;
	block->charged = charged;
	gMemCharged += charged;
	return block + 1;
}

static void vb_free(void *data)
{
	vb_block_header *block;
	if (!data)
		return;
	block = (vb_block_header *)data - 1;
	gMemCharged -= block->charged;
	free(block);
}

/*
 * Chunk blocks come from one arena, each right after the one before, as
 * from the static heap of Moddable's ESP32 build: XS then joins a new block
 * to the last (fxGrowChunks), and its compaction gathers all free chunk
 * space in one place. Blocks malloc'd apart would each keep a free tail of
 * their own, and a string larger than any tail would grow the heap to the
 * cap although the free space, summed, was there: a "memory full" the
 * device does not have. The arena is only reserved address space; pages
 * are used as the chunks reach them.
 */
static void vb_fit_growth(txMachine *the);
static char *gChunkArena;
static size_t gChunkArenaSize, gChunkArenaUsed;
#define VB_CHUNK_ARENA_SPARE ((size_t)64 << 20)   /* beyond the cap: XS's built-ins, a 64-bit build's larger chunks */

void *fxAllocateChunks(txMachine *the, txSize size)
{
	void *block;
	if (!gChunkArena) {
		gChunkArenaSize = 2 * gMemLimit + VB_CHUNK_ARENA_SPARE;
		gChunkArena = malloc(gChunkArenaSize);
		if (!gChunkArena)
			return NULL;
	}
	if ((size_t)size > gChunkArenaSize - gChunkArenaUsed)
		return NULL;
	if (gMemLimit && ((size_t)size > gMemLimit + gRomBytes || gMemCharged > gMemLimit + gRomBytes - (size_t)size))
		return NULL;        /* XS then collects garbage and, failing that, aborts with "memory full" */
	block = gChunkArena + gChunkArenaUsed;
	gChunkArenaUsed += (size_t)size;
	gMemCharged += (size_t)size;
	vb_fit_growth(the);
	return block;
}

/* Only when the machine goes (one boot a process): the arena goes with it. */
void fxFreeChunks(txMachine *the, void *chunks)
{
	(void)the;
	(void)chunks;
}

/*
 * Near the cap, the heap grows in smaller steps: XS asks for a whole step
 * (2,048 slots, 32 KB) and aborts when it does not fit, though 20 KB more
 * were there to use. A device's static heap can be used to its last bytes;
 * so can the cap, this way. Smaller steps only near the end keep
 * collections as rare as the full step makes them elsewhere.
 */
static void vb_fit_growth(txMachine *the)
{
	size_t cap = gMemLimit + gRomBytes, left, slots, chunks;
	if (!gMemLimit || !the)
		return;
	left = gMemCharged < cap ? cap - gMemCharged : 0;
	slots = left / XS_OTA_HEAP_SLOT_BYTES / 2;
	chunks = left / 2;
	/* XS grows chunks by the whole size asked, rounded up to the step: the
	   smallest step near the end wastes least. */
	the->minimumHeapCount = (txSize)(slots >= VB_XS_HEAP_INCREMENT ? VB_XS_HEAP_INCREMENT : 64);
	the->minimumChunksSize = (txSize)(chunks >= VB_XS_CHUNK_INCREMENT ? VB_XS_CHUNK_INCREMENT : 512);
}

txSlot *fxAllocateSlots(txMachine *the, txSize count)
{
	txSlot *slots = vb_alloc((size_t)count * sizeof(txSlot), (size_t)count * XS_OTA_HEAP_SLOT_BYTES);
	if (slots)
		vb_fit_growth(the);
	return slots;
}

void fxFreeSlots(txMachine *the, void *slots)
{
	(void)the;
	vb_free(slots);
}

void vb_memstats(vb_memstats_t *stats)
{
	txMachine *the = gMachine;
	memset(stats, 0, sizeof(*stats));
	stats->slotSize = sizeof(txSlot);
	stats->heapSlotBytes = XS_OTA_HEAP_SLOT_BYTES;
	stats->allocatedBytes = gMemCharged;
	stats->heapLimit = gMemLimit;
	stats->romBytes = gRomBytes;
	if (!the)
		return;
	stats->slotsCurrent = the->currentHeapCount;
	stats->slotsPeak = the->peakHeapCount;
	stats->slotsMax = the->maximumHeapCount;
	stats->chunksCurrent = the->currentChunksSize;
	stats->chunksPeak = the->peakChunksSize;
	stats->chunksMax = the->maximumChunksSize;
}

void vb_collect_garbage(void *the)
{
	fxCollectGarbage(the);
}

/* Tests read the final statistics from VB_MEMSTATS_FILE, whatever the exit path. */
static void vb_write_memstats_file(void)
{
	const char *path = getenv("VB_MEMSTATS_FILE");
	vb_memstats_t s;
	FILE *file;
	if (!path || !*path)
		return;
	vb_memstats(&s);
	file = fopen(path, "w");
	if (!file)
		return;
	fprintf(file, "{\"slotSize\":%zu,\"heapSlotBytes\":%zu,\"romBytes\":%zu,\"slotsCurrent\":%zu,\"slotsPeak\":%zu,\"slotsMax\":%zu,"
		"\"chunksCurrent\":%zu,\"chunksPeak\":%zu,\"chunksMax\":%zu,"
		"\"allocatedBytes\":%zu,\"heapLimit\":%zu}\n",
		s.slotSize, s.heapSlotBytes, s.romBytes, s.slotsCurrent, s.slotsPeak, s.slotsMax,
		s.chunksCurrent, s.chunksPeak, s.chunksMax, s.allocatedBytes, s.heapLimit);
	fclose(file);
}

/* ---- panic: what the device would show before it reboots ---- */

void vb_panic(const char *what, const char *detail)
{
	static const char prefix[] = "Guru Meditation: ";
	size_t size = sizeof(prefix) + strlen(what) + (detail ? 2 + strlen(detail) : 0) + 1;
	char *line = malloc(size);
	if (line) {
		snprintf(line, size, "%s%s%s%s\n", prefix, what, detail ? ": " : "", detail ? detail : "");
		vb_uart_write(line, strlen(line));
		if (write(2, line, strlen(line)) < 0) { /* nothing left to report to */ }
	}
	else
		vb_uart_write("Guru Meditation: memory full\n", 29);
	exit(VB_EXIT_PANIC);
}

/* Prints the error's stack (XS puts "Name: message" first), or String(value). */
static void vb_panic_value(txMachine *the, const char *what, txSlot *value) __attribute__((noreturn));
static void vb_panic_value(txMachine *the, const char *what, txSlot *value)
{
	char *volatile text = NULL;
	if (gPanicking)   /* converting the value failed hard (memory full...) */
		vb_panic(what, "(value not printable)");
	gPanicking = 1;
	mxPush(*value);
	mxException = mxUndefined;
	mxTry(the) {
		txSlot *slot = the->stack;
		if (mxIsReference(slot)) {
			mxPushSlot(slot);
			mxGetID(mxID(_stack));
			if (mxIsStringPrimitive(the->stack))
				*slot = *the->stack;
			mxPop();
		}
		text = strdup(fxToString(the, slot));
	}
	mxCatch(the) {
		text = NULL;
	}
	vb_panic(what, text ? text : "(value not printable)");
}

void fxAbort(txMachine *the, int status)
{
	switch (status) {
	case XS_NOT_ENOUGH_MEMORY_EXIT: {
		/* Where the heap went, for whoever reads the board's stderr: live
		   against allocated, slots (at the ESP32's size) and chunks. */
		char where[160];
		int n = snprintf(where, sizeof(where), "heap: slots %zu of %zu B, chunks %zu of %zu B, %zu B charged of %zu\n",
			(size_t)the->currentHeapCount * XS_OTA_HEAP_SLOT_BYTES, (size_t)the->maximumHeapCount * XS_OTA_HEAP_SLOT_BYTES,
			(size_t)the->currentChunksSize, (size_t)the->maximumChunksSize, gMemCharged - gRomBytes, gMemLimit);
		if (n > 0 && write(2, where, (size_t)n) < 0) { /* nothing left to report to */ }
		vb_panic("memory full", NULL);
	}
	case XS_STACK_OVERFLOW_EXIT:
		vb_panic("stack overflow", NULL);
	case XS_NO_MORE_KEYS_EXIT:
		vb_panic("not enough keys", NULL);
	case XS_UNHANDLED_EXCEPTION_EXIT:
		vb_panic_value(the, "uncaught exception", &mxException);
	case XS_UNHANDLED_REJECTION_EXIT:
		vb_panic_value(the, "unhandled rejection", &mxException);
	default: {
		char detail[32];
		snprintf(detail, sizeof(detail), "XS abort %d", status);
		vb_panic("fatal error", detail);
	}
	}
}

/* ---- promise jobs ---- */

void fxQueuePromiseJobs(txMachine *the)
{
	the->promiseJobs = 1;
}

void vb_run_jobs(void *machine)
{
	txMachine *the = machine;
	do {
		while (the->promiseJobs) {
			the->promiseJobs = 0;
			fxRunPromiseJobs(the);
		}
		fxEndJob(the);   /* FinalizationRegistry callbacks may queue more jobs */
	} while (the->promiseJobs);
	/* Like Node: a rejection still unhandled once the jobs are drained is fatal. */
	fxCheckUnhandledRejections(the, 1);
}

/* ---- globals ---- */

/* trace(...): Moddable's console output, bytes to the UART as they are (no newline added). */
static void vb_fx_trace(txMachine *the)
{
	txInteger i;
	for (i = 0; i < mxArgc; i++) {
		txString text = fxToString(the, mxArgv(i));
		vb_uart_write(text, strlen(text));
	}
}

/* native(name) and Native(name) bind C symbols at run time, as xsc does at
   build time on the device. One binding per name, kept for the life of the
   machine (as the device's host table is): `native("x").call(this)` in a
   method then costs no allocation per call. */
typedef struct vb_binding {
	struct vb_binding *next;
	txSlot value;
	int isClass;
	char name[];
} vb_binding;

static vb_binding *gBindings;

static void vb_fx_native_base(txMachine *the)
{
	(void)the;   /* the instance is created by XS (base class flag) from new.target's prototype */
}

static void vb_bind(txMachine *the, int isClass)
{
	char name[256];
	vb_binding *binding;
	void *symbol;
	if (mxArgc < 1)
		mxTypeError("%s: no name", isClass ? "Native" : "native");
	fxToStringBuffer(the, mxArgv(0), name, sizeof(name));
	for (binding = gBindings; binding; binding = binding->next) {
		if (binding->isClass == isClass && !strcmp(binding->name, name)) {
			mxResult->kind = binding->value.kind;
			mxResult->value = binding->value.value;
			return;
		}
	}
	symbol = dlsym(RTLD_DEFAULT, name);
	if (!symbol)
		mxReferenceError("host function not found: %s", name);
	if (isClass) {
		/* What `class @ "destructor" {}` compiles to: a base class whose
		   prototype is a host object carrying the destructor; XS gives
		   every instance (and every subclass prototype) a host slot with
		   the same destructor. */
		txSlot *constructor;
		fxNewHostObject(the, (txDestructor)symbol);
		constructor = fxNewHostConstructor(the, vb_fx_native_base, 0, XS_NO_ID);
		constructor->next->flag |= XS_BASE_FLAG;
	}
	else
		fxNewHostFunction(the, (txCallback)symbol, 0, fxNewNameC(the, name), XS_NO_ID);
	binding = c_malloc(sizeof(vb_binding) + strlen(name) + 1);
	if (!binding)
		fxAbort(the, XS_NOT_ENOUGH_MEMORY_EXIT);
	memset(binding, 0, sizeof(vb_binding));
	binding->isClass = isClass;
	strcpy(binding->name, name);
	binding->value.kind = the->stack->kind;
	binding->value.value = the->stack->value;
	fxRemember(the, &binding->value);
	binding->next = gBindings;
	gBindings = binding;
	mxPullSlot(mxResult);
}

static void vb_fx_native(txMachine *the)
{
	vb_bind(the, 0);
}

static void vb_fx_Native(txMachine *the)
{
	vb_bind(the, 1);
}

static void vb_define_global(txMachine *the, const char *name, txCallback callback, txInteger length)
{
	txSlot *property;
	fxNewHostFunction(the, callback, length, fxNewNameC(the, (txString)name), XS_NO_ID);
	property = mxBehaviorSetProperty(the, mxGlobal.value.reference, fxNewNameC(the, (txString)name), 0, XS_OWN);
	property->flag = XS_DONT_ENUM_FLAG;
	property->kind = the->stack->kind;
	property->value = the->stack->value;
	mxPop();
}

/* For host functions that, like Moddable's, take a constructor as a type
   argument (socket read(String)): the slots hold the same value. */
int vb_slots_identical(void *machine, void *a, void *b)
{
	return fxIsSameSlot(machine, a, b) ? 1 : 0;
}

/* ---- entry ---- */

#define VB_STRING(x) #x
#define VB_XSTRING(x) VB_STRING(x)
const char *vb_xs_version(void)
{
	return "XS " VB_XSTRING(XS_MAJOR_VERSION) "." VB_XSTRING(XS_MINOR_VERSION) "." VB_XSTRING(XS_PATCH_VERSION);
}

/* What the firmware's heap figures leave out as flash (modules/esp32/xsota_native.c). */
size_t vb_heap_rom(void)
{
	return gRomBytes;
}

/* The cap the firmware reports as its RAM size (modules/esp32/xsota_native.c). */
size_t vb_heap_ceiling(void)
{
	return gMemLimit;
}

void vb_xs_run(const uint8_t *archive, size_t size, size_t mem_limit)
{
	txCreation creation = {
		.initialChunkSize = VB_XS_CHUNK_INITIAL,
		.incrementalChunkSize = VB_XS_CHUNK_INCREMENT,
		.initialHeapCount = VB_XS_HEAP_INITIAL,
		.incrementalHeapCount = VB_XS_HEAP_INCREMENT,
		.stackCount = VB_XS_STACK,
		.initialKeyCount = VB_XS_KEYS_INITIAL,
		.incrementalKeyCount = VB_XS_KEYS_INCREMENT,
		.nameModulo = 1993,
		.symbolModulo = 127,
		.parserBufferSize = 64 * 1024,
		.parserTableModulo = 1993,
		.staticSize = 0,
	};
	txMachine *the;

	gMemLimit = mem_limit;
	atexit(vb_write_memstats_file);
	vb_io_init();
	vb_power_init();
	vb_task_wdt_start();
	if (vb_archive_open(archive, size))
		vb_panic("fatal error", "invalid module archive");
	the = gMachine = fxCreateMachine(&creation, "vboard", NULL, XS_NO_ID);
	if (!the)
		vb_panic("memory full", NULL);

	xsBeginHost(the);   /* an exception escaping here panics through fxAbort */
	{
		vb_define_global(the, "trace", vb_fx_trace, 1);
		vb_define_global(the, "native", vb_fx_native, 1);
		vb_define_global(the, "Native", vb_fx_Native, 1);
		fxCollectGarbage(the);
		gRomBytes = (size_t)the->currentHeapCount * XS_OTA_HEAP_SLOT_BYTES + (size_t)the->currentChunksSize;
		vb_run_main(the);
	}
	xsEndHost(the);
	vb_loop_run(gMachine);
}
