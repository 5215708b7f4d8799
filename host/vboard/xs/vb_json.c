/*
 * Just enough JSON for the host: reading members of the supervisor's link
 * messages (flat objects the supervisor writes), and checking the
 * --config object strictly, because it becomes the firmware's mc/config and
 * a mistake there must be a usage error, not a panic at import.
 */
#include "vb_host.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

static const char *vb_json_skip_space(const char *p, const char *end)
{
	while (p < end && (*p == ' ' || *p == '\t' || *p == '\r' || *p == '\n'))
		p++;
	return p;
}

const char *vb_json_skip_value(const char *p, const char *end)
{
	int depth = 0;
	do {
		if (p >= end)
			return end;
		if (*p == '"') {
			for (p++; p < end && *p != '"'; p++)
				if (*p == '\\')
					p++;
			p++;
		}
		else if (*p == '{' || *p == '[')
			depth++, p++;
		else if (*p == '}' || *p == ']')
			depth--, p++;
		else if (depth == 0) {
			while (p < end && *p != ',' && *p != '}' && *p != ']')
				p++;
		}
		else
			p++;
	} while (depth > 0);
	return p > end ? end : p;
}

const char *vb_json_member(const char *p, const char *end, const char *key)
{
	size_t key_size = strlen(key);
	p = vb_json_skip_space(p, end);
	if (p >= end || *p++ != '{')
		return NULL;
	for (;;) {
		const char *name;
		p = vb_json_skip_space(p, end);
		if (p >= end || *p != '"')
			return NULL;
		name = p + 1;
		p = vb_json_skip_value(p, end);
		p = vb_json_skip_space(p, end);
		if (p >= end || *p++ != ':')
			return NULL;
		p = vb_json_skip_space(p, end);
		if ((size_t)(end - name) > key_size && !memcmp(name, key, key_size) && name[key_size] == '"')
			return p;
		p = vb_json_skip_space(vb_json_skip_value(p, end), end);
		if (p >= end || *p++ != ',')
			return NULL;
	}
}

int vb_json_member_raw(const char *json, const char *end, const char *key, const char **value)
{
	const char *start = vb_json_member(json, end, key), *stop;
	if (!start)
		return 0;
	stop = vb_json_skip_value(start, end);
	while (stop > start && (stop[-1] == ' ' || stop[-1] == '\n' || stop[-1] == '\t' || stop[-1] == '\r'))
		stop--;
	*value = start;
	return (int)(stop - start);
}

int vb_json_member_is(const char *json, const char *end, const char *key, const char *literal)
{
	const char *value = vb_json_member(json, end, key);
	size_t size = strlen(literal);
	return value && (size_t)(end - value) >= size && !memcmp(value, literal, size);
}

int vb_json_member_number(const char *json, const char *end, const char *key, double *number)
{
	const char *value = vb_json_member(json, end, key);
	char text[40];
	char *stop;
	size_t length;
	if (!value)
		return 0;
	length = (size_t)(vb_json_skip_value(value, end) - value);
	while (length && (value[length - 1] == ' ' || value[length - 1] == '\n' || value[length - 1] == '\t' || value[length - 1] == '\r'))
		length--;
	if (!length || length >= sizeof(text) || !(*value == '-' || (*value >= '0' && *value <= '9')))
		return -1;
	memcpy(text, value, length);
	text[length] = 0;
	*number = strtod(text, &stop);
	return *stop ? -1 : 1;
}

/* ---- strict checking of --config ---- */

static const char *vb_json_check_string(const char *p, const char **problem)
{
	if (*p++ != '"') {
		*problem = "expected a string";
		return NULL;
	}
	for (;;) {
		unsigned char c = (unsigned char)*p++;
		if (c == '"')
			return p;
		if (c < 0x20) {
			*problem = c ? "control character in a string" : "unterminated string";
			return NULL;
		}
		if (c == '\\') {
			c = (unsigned char)*p++;
			if (c == 'u') {
				int i;
				for (i = 0; i < 4; i++, p++) {
					if (!((*p >= '0' && *p <= '9') || (*p >= 'a' && *p <= 'f') || (*p >= 'A' && *p <= 'F'))) {
						*problem = "bad \\u escape";
						return NULL;
					}
				}
			}
			else if (!c || !strchr("\"\\/bfnrt", c)) {
				*problem = "bad escape in a string";
				return NULL;
			}
		}
	}
}

static const char *vb_json_check_digits(const char *p)
{
	if (*p < '0' || *p > '9')
		return NULL;
	while (*p >= '0' && *p <= '9')
		p++;
	return p;
}

static const char *vb_json_check_number(const char *p)
{
	if (*p == '-')
		p++;
	if (*p == '0')
		p++;
	else if (!(p = vb_json_check_digits(p)))
		return NULL;
	if (*p == '.' && !(p = vb_json_check_digits(p + 1)))
		return NULL;
	if (*p == 'e' || *p == 'E') {
		p++;
		if (*p == '+' || *p == '-')
			p++;
		if (!(p = vb_json_check_digits(p)))
			return NULL;
	}
	return p;
}

const char *vb_json_check_flat_object(const char *text)
{
	const char *problem = NULL, *end = text + strlen(text);
	const char *p = vb_json_skip_space(text, end);
	if (*p++ != '{')
		return "not a JSON object";
	p = vb_json_skip_space(p, end);
	if (*p == '}')
		p++;
	else for (;;) {
		if (!(p = vb_json_check_string(p, &problem)))
			return problem;
		p = vb_json_skip_space(p, end);
		if (*p++ != ':')
			return "expected ':' after a key";
		p = vb_json_skip_space(p, end);
		if (*p == '"')
			p = vb_json_check_string(p, &problem);
		else if (!strncmp(p, "true", 4) || !strncmp(p, "false", 5))
			p += *p == 't' ? 4 : 5;
		else if (*p == '{' || *p == '[')
			return "values must be strings, numbers or booleans (no nested objects or arrays)";
		else if (!(p = vb_json_check_number(p)))
			return "values must be strings, numbers or booleans";
		if (!p)
			return problem;
		p = vb_json_skip_space(p, end);
		if (*p == '}') {
			p++;
			break;
		}
		if (*p++ != ',')
			return "expected ',' or '}'";
		p = vb_json_skip_space(p, end);
	}
	p = vb_json_skip_space(p, end);
	return *p ? "characters after the object" : NULL;
}
