/*
 * Modules of the virtual board: the firmware's module archive (README
 * "Firmware payload"), the host's built-in modules, specifier resolution,
 * and parsing with Moddable's `@ "name"` host bindings resolved by dlsym.
 *
 * On the device, xsc/xsl compile the modules at build time and the byte
 * code runs from flash. Here each module is parsed when first imported, then
 * "linked" like xsl does: its byte code stays outside the XS heap and its
 * functions and string literals point into it, so the chunk statistics
 * count what the device's RAM would hold, not the code.
 */
#include "xsAll.h"
#include "xsScript.h"
#include "vb_host.h"

#include <dlfcn.h>

#define VB_ARCHIVE_MAGIC "XSVBMODS"

typedef struct {
	const char *name;
	size_t nameSize;
	const char *source;
	size_t sourceSize;
} vb_module_source;

static vb_module_source *gArchive;
static uint32_t gArchiveCount;

/* Built-in modules of the board, as the device firmware gets them from the
   Moddable SDK. Their host functions live in this program. */
static const char gTimerSource[] =
	"class Timer {\n"
	"\tstatic set(callback, delay, repeat) @ \"xs_timer_set\";\n"
	"\tstatic repeat(callback, delay) @ \"xs_timer_repeat\";\n"
	"\tstatic schedule(id, delay, repeat) @ \"xs_timer_schedule\";\n"
	"\tstatic clear(id) @ \"xs_timer_clear\";\n"
	"\tstatic delay(ms) @ \"xs_timer_delay\";\n"
	"};\n"
	"Object.freeze(Timer.prototype);\n"
	"export default Timer;\n";
static const char gTextDecoderSource[] =
	"export default class @ \"xs_textdecoder_destructor\" {\n"
	"\tconstructor(label, options) @ \"xs_textdecoder\";\n"
	"\tdecode(buffer) @ \"xs_textdecoder_decode\";\n"
	"\tget encoding() @ \"xs_textdecoder_get_encoding\";\n"
	"\tget ignoreBOM() @ \"xs_textdecoder_get_ignoreBOM\";\n"
	"\tget fatal() @ \"xs_textdecoder_get_fatal\";\n"
	"}\n";
static const char gTextEncoderSource[] =
	"export default class {\n"
	"\tencode(value) @ \"xs_textencoder_encode\";\n"
	"\tencodeInto(value, buffer) @ \"xs_textencoder_encodeInto\";\n"
	"}\n";

/* Moddable's socket.js API over vb_socket.c: the same classes, methods,
   message numbers and frozen prototypes as the ESP32 build. */
static const char gSocketSource[] =
	"export class Socket @ \"xs_socket_destructor\" {\n"
	"\tconstructor(dictionary) @ \"xs_socket\";\n"
	"\tread() @ \"xs_socket_read\";\n"
	"\twrite() @ \"xs_socket_write\";\n"
	"\tclose() @ \"xs_socket_close\";\n"
	"\tget(name) @ \"xs_socket_get\";\n"
	"\tsuspend() @ \"xs_socket_suspend\";\n"
	"}\n"
	"Socket.connected = 1;\n"
	"Socket.readable = 2;\n"
	"Socket.writable = 3;\n"
	"Socket.error = -2;\n"
	"Socket.disconnected = -1;\n"
	"export class Listener @ \"xs_listener_destructor\" {\n"
	"\tconstructor(dictionary) @ \"xs_listener\";\n"
	"\tclose() @ \"xs_listener_close\";\n"
	"}\n"
	"Object.freeze(Socket.prototype);\n"
	"Object.freeze(Listener.prototype);\n"
	"export default Object.freeze({ Socket, Listener });\n";
/* The board's --config (vb_mc_config.c), as mcconfig's generated module */
static const char gMcConfigSource[] =
	"function settings() @ \"xs_vb_mc_config\";\n"
	"export default Object.freeze(JSON.parse(settings()));\n";

/* Moddable's "logical" (modules/data/logical), compiled from node_modules. */
static const char gLogicalSource[] =
	"export default class Logical {\n"
	"\tstatic not(dst) { Logical.xor(dst, 0xff); }\n"
	"\tstatic xor(dst, src) @ \"xs_logical_xor\";\n"
	"\tstatic and(dst, src) @ \"xs_logical_and\";\n"
	"\tstatic or(dst, src) @ \"xs_logical_or\";\n"
	"}\n";

#define VB_BUILTIN(NAME, SOURCE) { NAME, sizeof(NAME) - 1, SOURCE, sizeof(SOURCE) - 1 }
static const vb_module_source gBuiltins[] = {
	VB_BUILTIN("timer", gTimerSource),
	VB_BUILTIN("text/decoder", gTextDecoderSource),
	VB_BUILTIN("text/encoder", gTextEncoderSource),
	VB_BUILTIN("socket", gSocketSource),
	VB_BUILTIN("mc/config", gMcConfigSource),
	VB_BUILTIN("logical", gLogicalSource),
};

static uint32_t vb_read_u32(const uint8_t *p)
{
	return (uint32_t)p[0] | ((uint32_t)p[1] << 8) | ((uint32_t)p[2] << 16) | ((uint32_t)p[3] << 24);
}

int vb_archive_open(const uint8_t *archive, size_t size)
{
	const uint8_t *p = archive, *end = archive + size;
	uint32_t count, i;
	if (size < 12 || memcmp(p, VB_ARCHIVE_MAGIC, 8))
		return -1;
	count = vb_read_u32(p + 8);
	p += 12;
	if (count > size / 6)
		return -1;
	gArchive = calloc(count ? count : 1, sizeof(vb_module_source));
	if (!gArchive)
		return -1;
	for (i = 0; i < count; i++) {
		vb_module_source *m = &gArchive[i];
		if (end - p < 2)
			return -1;
		m->nameSize = (size_t)p[0] | ((size_t)p[1] << 8);
		p += 2;
		if ((size_t)(end - p) < m->nameSize + 4)
			return -1;
		m->name = (const char *)p;
		p += m->nameSize;
		m->sourceSize = vb_read_u32(p);
		p += 4;
		if ((size_t)(end - p) < m->sourceSize)
			return -1;
		m->source = (const char *)p;
		p += m->sourceSize;
	}
	gArchiveCount = count;
	return 0;
}

/* Built-ins first: the board's own modules cannot be replaced by firmware. */
static const vb_module_source *vb_find_source(const char *name)
{
	size_t size = strlen(name), i;
	for (i = 0; i < sizeof(gBuiltins) / sizeof(gBuiltins[0]); i++)
		if (gBuiltins[i].nameSize == size && !memcmp(gBuiltins[i].name, name, size))
			return &gBuiltins[i];
	for (i = 0; i < gArchiveCount; i++)
		if (gArchive[i].nameSize == size && !memcmp(gArchive[i].name, name, size))
			return &gArchive[i];
	return NULL;
}

/* "./x" and "../x" against the referrer's specifier ("rpc/frame" -> "rpc/x");
   bare specifiers are names in the archive. A trailing ".js"/".mjs" (tsc
   output keeps them) is dropped when the exact name is not found.
   Returns 0, or -1 when the path climbs above the root or is too long. */
static int vb_resolve(const char *referrer, const char *specifier, char *result, size_t size)
{
	char path[C_PATH_MAX];
	char *segments[128];
	int count = 0, i;
	char *segment, *rest;
	size_t used = 0;
	if (strncmp(specifier, "./", 2) && strncmp(specifier, "../", 3)) {
		if (strlen(specifier) >= size)
			return -1;
		strcpy(result, specifier);
	}
	else {
		const char *slash = referrer ? strrchr(referrer, '/') : NULL;
		size_t base = slash ? (size_t)(slash - referrer) : 0;
		if (base + 1 + strlen(specifier) >= sizeof(path))
			return -1;
		if (base)
			memcpy(path, referrer, base);
		path[base] = '/';
		strcpy(path + base + 1, specifier);
		for (segment = strtok_r(path, "/", &rest); segment; segment = strtok_r(NULL, "/", &rest)) {
			if (!strcmp(segment, "."))
				continue;
			if (!strcmp(segment, "..")) {
				if (count == 0)
					return -1;
				count--;
				continue;
			}
			if (count == (int)(sizeof(segments) / sizeof(segments[0])))
				return -1;
			segments[count++] = segment;
		}
		for (i = 0; i < count; i++) {
			size_t length = strlen(segments[i]);
			if (used + length + 2 > size)
				return -1;
			if (i)
				result[used++] = '/';
			memcpy(result + used, segments[i], length);
			used += length;
		}
		result[used] = 0;
	}
	if (!vb_find_source(result)) {
		size_t length = strlen(result);
		if (length > 3 && !strcmp(result + length - 3, ".js"))
			result[length - 3] = 0;
		else if (length > 4 && !strcmp(result + length - 4, ".mjs"))
			result[length - 4] = 0;
	}
	return 0;
}

txID fxFindModule(txMachine *the, txSlot *realm, txID moduleID, txSlot *slot)
{
	char specifier[C_PATH_MAX], name[C_PATH_MAX], referrerName[C_PATH_MAX];
	const char *referrer = NULL;
	(void)realm;
	if (moduleID != XS_NO_ID) {   /* copied: key strings may move when XS allocates */
		snprintf(referrerName, sizeof(referrerName), "%s", fxGetKeyName(the, moduleID));
		referrer = referrerName;
	}
	fxToStringBuffer(the, slot, specifier, sizeof(specifier));
	if (!vb_resolve(referrer, specifier, name, sizeof(name)) && vb_find_source(name))
		return fxNewNameC(the, name);
	if (referrer)   /* say who imports it: the firmware has many modules */
		mxReferenceError("module \"%s\" not found, imported by \"%s\"", specifier, referrer);
	return XS_NO_ID;
}

/* ---- parsing ---- */

typedef struct {
	const char *data;
	size_t size;
	size_t offset;
} vb_source_stream;

static int vb_source_getter(void *it)
{
	vb_source_stream *stream = it;
	if (stream->offset < stream->size)
		return (unsigned char)stream->data[stream->offset++];
	return C_EOF;
}

/* XS's parser message has no location: keep the first one with its line. */
static char gParserError[256];

static void vb_parser_error(void *console, txString path, txInteger line, txString format, c_va_list arguments)
{
	char message[192];
	(void)console;
	if (gParserError[0])
		return;
	vsnprintf(message, sizeof(message), format, arguments);
	snprintf(gParserError, sizeof(gParserError), "%s:%d: %s", path ? path : "?", (int)line, message);
}

static void vb_parser_warning(void *console, txString path, txInteger line, txString format, c_va_list arguments)
{
	(void)console, (void)path, (void)line, (void)format, (void)arguments;
}

static txScript *vb_parse_module(txMachine *the, const char *name, const vb_module_source *source)
{
	txParser parser;
	txParserJump jump;
	txScript *volatile script = NULL;
	vb_source_stream stream = { source->source, source->sourceSize, 0 };
	gParserError[0] = 0;
	fxInitializeParser(&parser, the, the->parserBufferSize, the->parserTableModulo);
	parser.reportError = vb_parser_error;
	parser.reportWarning = vb_parser_warning;
	parser.firstJump = &jump;
	if (c_setjmp(jump.jmp_buf) == 0) {
		parser.path = fxNewParserSymbol(&parser, (txString)name);
		/* mxCFlag: accept Moddable's `@ "name"` host syntax */
		fxParserTree(&parser, &stream, vb_source_getter, mxCFlag, NULL);
		if (parser.errorCount == 0) {
			fxParserHoist(&parser);
			fxParserBind(&parser);
		}
		if (parser.errorCount == 0)
			script = fxParserCode(&parser);
	}
	if (parser.errorCount && !gParserError[0])
		snprintf(gParserError, sizeof(gParserError), "%s: syntax error", name);
	fxTerminateParser(&parser);
	if (gParserError[0])
		mxSyntaxError("%s", gParserError);
	if (!script)
		fxAbort(the, XS_NOT_ENOUGH_MEMORY_EXIT);
	return script;
}

/* ---- linking: what xsl does to code that runs from flash ---- */

static void vb_link_code(txByte *code, txSize size, const txID *ids)
{
	txByte *p = code, *end = code + size;
	while (p < end) {
		txU1 opcode = *(txU1 *)p;
		txS1 offset = gxCodeSizes[opcode];
		/* code_archive / string_archive leave the bytes where they are
		   instead of copying them into XS chunks */
		if (opcode >= XS_CODE_CODE_1 && opcode <= XS_CODE_CODE_4)
			*p = (txByte)(opcode - XS_CODE_CODE_1 + XS_CODE_CODE_ARCHIVE_1);
		else if (opcode >= XS_CODE_STRING_1 && opcode <= XS_CODE_STRING_4)
			*p = (txByte)(opcode - XS_CODE_STRING_1 + XS_CODE_STRING_ARCHIVE_1);
		if (offset > 0)
			p += offset;   /* nested function code is inline: keep walking into it */
		else if (offset == 0) {   /* an ID operand: script-local -> machine key */
			txID id;
			p++;
			mxDecodeID(p, id);
			if (id != XS_NO_ID) {
				id = ids[id];
				p -= sizeof(txID);
				mxEncodeID(p, id);
			}
		}
		else if (offset == -1) {
			txU1 length;
			p++;
			length = *(txU1 *)p;
			p += 1 + length;
		}
		else if (offset == -2) {
			txU2 length;
			p++;
			mxDecode2(p, length);
			p += length;
		}
		else {
			txS4 length;
			p++;
			mxDecode4(p, length);
			p += length;
		}
	}
}

/* Host functions of the module being loaded, handed to XS by the script
   callback (fxResolveModule runs it right after parsing, so one pending
   table is enough). */
static txHostFunctionBuilder *gPendingHosts;
static txInteger gPendingHostCount;

static void vb_build_hosts(txMachine *the)
{
	fxBuildHosts(the, gPendingHostCount, gPendingHosts);
	mxPullSlot(mxResult);
}

static void vb_link_script(txMachine *the, txScript *script)
{
	txByte *p;
	txID count, i;
	txID *ids;

	p = script->symbolsBuffer;
	mxDecodeID(p, count);
	ids = c_malloc(count * sizeof(txID));
	if (!ids)
		fxAbort(the, XS_NOT_ENOUGH_MEMORY_EXIT);
	ids[0] = XS_NO_ID;
	for (i = 1; i < count; i++) {
		ids[i] = fxNewNameC(the, (txString)p);
		p += strlen((const char *)p) + 1;
	}
	vb_link_code(script->codeBuffer, script->codeSize, ids);

	gPendingHosts = NULL;
	gPendingHostCount = 0;
	script->callback = NULL;
	if (script->hostsBuffer) {
		txID hostCount;
		p = script->hostsBuffer;
		mxDecodeID(p, hostCount);
		gPendingHosts = c_calloc(hostCount, sizeof(txHostFunctionBuilder));
		if (!gPendingHosts)
			fxAbort(the, XS_NOT_ENOUGH_MEMORY_EXIT);
		for (i = 0; i < hostCount; i++) {
			txS1 length = *p++;    /* -1: `class @ "destructor"` */
			txID symbol;
			const char *hostName;
			void *address;
			mxDecodeID(p, symbol);
			hostName = (const char *)p;
			p += strlen(hostName) + 1;
			address = dlsym(RTLD_DEFAULT, hostName);
			if (!address) {
				c_free(ids);
				mxReferenceError("host function not found: %s", hostName);
			}
			gPendingHosts[i].callback = (txCallback)address;
			gPendingHosts[i].length = length;
			gPendingHosts[i].id = (symbol != XS_NO_ID && symbol < count) ? ids[symbol] : XS_NO_ID;
		}
		gPendingHostCount = hostCount;
		script->callback = vb_build_hosts;
		c_free(script->hostsBuffer);
		script->hostsBuffer = NULL;
	}
	/* Without symbols, fxRunScript neither remaps again nor frees the code:
	   the byte code stays resident, as in flash. */
	c_free(script->symbolsBuffer);
	script->symbolsBuffer = NULL;
	c_free(ids);
}

/* The first module that failed to load (syntax error, missing host
   function): XS then rejects its importers with a less useful link error
   ("import f not found"), so the panic reports this one instead. */
static char gLoadError[512];

void fxLoadModule(txMachine *the, txSlot *module, txID moduleID)
{
	char name[C_PATH_MAX];
	const vb_module_source *source;
	txScript *volatile script = NULL;
	snprintf(name, sizeof(name), "%s", fxGetKeyName(the, moduleID));
	source = vb_find_source(name);
	if (!source)
		mxReferenceError("module \"%s\" not found", name);
	mxTry(the) {
		script = vb_parse_module(the, name, source);
		vb_link_script(the, script);
	}
	mxCatch(the) {
		if (!gLoadError[0]) {
			mxPush(mxException);
			fxToStringBuffer(the, the->stack, gLoadError, sizeof(gLoadError));
			mxPop();
		}
		fxJump(the);
	}
	fxResolveModule(the, module, moduleID, script, C_NULL, C_NULL);
	c_free(script);   /* the struct only; its code buffer now belongs to the machine */
	c_free(gPendingHosts);
	gPendingHosts = NULL;
}

/* ---- the entry module ---- */

static void vb_main_fulfilled(txMachine *the)
{
	(void)the;
}

/* xsnap swallows module errors; the board must not: a module that throws
   at evaluation, or a missing import, is a firmware panic. */
static void vb_main_rejected(txMachine *the)
{
	if (gLoadError[0])
		vb_panic("uncaught exception", gLoadError);
	mxException = *mxArgv(0);
	fxAbort(the, XS_UNHANDLED_EXCEPTION_EXIT);
}

void vb_run_main(void *machine)
{
	txMachine *the = machine;
	txSlot *realm = mxProgram.value.reference->next->value.module.realm;
	mxPushStringC("main");
	fxRunImport(the, realm, XS_NO_ID);
	mxDub();
	fxGetID(the, mxID(_then));
	mxCall();
	fxNewHostFunction(the, vb_main_fulfilled, 1, XS_NO_ID, XS_NO_ID);
	fxNewHostFunction(the, vb_main_rejected, 1, XS_NO_ID, XS_NO_ID);
	mxRunCount(2);
	mxPop();
}
