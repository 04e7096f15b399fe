/* SPDX-License-Identifier: MIT */
/*
 * test_siphash.c - SipHash-2-4 against the reference test vectors (key 00..0f, message
 * 00..len-1) published with the algorithm: every tail length 0..7, one and several blocks.
 */
#include "dataplane/net/net_impl.h"
#include "tests/dataplane/net/nettest.h"

static const struct {
	uint32_t len;
	uint64_t want;
} vec[] = {
    {0, 0x726fdb47dd0e0e31ull},  {1, 0x74f839c593dc67fdull},  {2, 0x0d6c8009d9a94f5aull},
    {3, 0x85676696d7fb7e2dull},  {4, 0xcf2794e0277187b7ull},  {5, 0x18765564cd99a68dull},
    {6, 0xcbc9466e58fee3ceull},  {7, 0xab0200f58b01d137ull},  {8, 0x93f5f5799a932462ull},
    {9, 0x9e0082df0ba9e4b0ull},  {10, 0x7a5dbbc594ddb9f3ull}, {11, 0xf4b32f46226bada7ull},
    {12, 0x751e8fbc860ee5fbull}, {13, 0x14ea5627c0843d90ull}, {14, 0xf723ca908e7af2eeull},
    {15, 0xa129ca6149be45e5ull}, {16, 0x3f2acc7f57c29bdbull}, {31, 0x32d892fad841c342ull},
    {32, 0x7127512f72f27cceull}, {63, 0x958a324ceb064572ull},
};

int main(void)
{
	uint8_t key[16], msg[64];

	for (int i = 0; i < 16; i++)
		key[i] = (uint8_t)i;
	for (int i = 0; i < 64; i++)
		msg[i] = (uint8_t)i;
	for (size_t i = 0; i < sizeof(vec) / sizeof(vec[0]); i++) {
		uint64_t h = net_siphash(key, msg, vec[i].len);

		CHECK(h == vec[i].want, "len %u: %016llx", vec[i].len, (unsigned long long)h);
	}
	key[0] ^= 1;
	CHECK(net_siphash(key, msg, 15) != 0xa129ca6149be45e5ull, "the key matters");
	return nt_report();
}
