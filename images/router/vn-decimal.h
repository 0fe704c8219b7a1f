/* Strict decimal parsing shared by the image's small C helpers (vn-probe, vn-route, vn-portwait). */
#ifndef VN_DECIMAL_H
#define VN_DECIMAL_H

/* *out = the whole decimal number s, lo..hi, digits only, no sign or leading zeros; 0, or -1 (out untouched) when not. */
static int parse_int(const char *s, int lo, int hi, int *out)
{
	int v = 0;
	if (!*s || (s[0] == '0' && s[1]))
		return -1;
	for (; *s; s++) {
		if (*s < '0' || *s > '9')
			return -1;
		v = v * 10 + (*s - '0');
		if (v > hi)
			return -1;
	}
	if (v < lo)
		return -1;
	*out = v;
	return 0;
}

#endif
