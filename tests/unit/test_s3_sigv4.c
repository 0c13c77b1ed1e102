/* Unit tests for storage/s3_sigv4.c against AWS's published Signature V4 examples: the S3
 * API reference's GET/PUT/lifecycle/list examples and presigned URL, and the generic
 * test suite's get-vanilla case. */
#include <stdlib.h>
#include <string.h>

#include "storage/s3_sigv4.h"
#include "tests/unit/tap.h"

#define EXAMPLE_HOST "examplebucket.s3.amazonaws.com"

static const struct sigv4_creds s3_example = {"AKIAIOSFODNN7EXAMPLE", "wJalrXUtnFEMI/K7MDENG/bPxRfiCYEXAMPLEKEY",
                                              "us-east-1", "s3"};

static const struct {
	const char *desc;
	const char *method, *path, *query;
	struct sigv4_header headers[6];
	size_t nheaders;
	const char *payload;
	const char *want;
} cases[] = {
    {"S3 GET object with a range",
     "GET",
     "/test.txt",
     "",
     {{"host", EXAMPLE_HOST},
      {"range", "bytes=0-9"},
      {"x-amz-content-sha256", SIGV4_EMPTY_SHA256},
      {"x-amz-date", "20130524T000000Z"}},
     4,
     SIGV4_EMPTY_SHA256,
     "AWS4-HMAC-SHA256 Credential=AKIAIOSFODNN7EXAMPLE/20130524/us-east-1/s3/aws4_request, "
     "SignedHeaders=host;range;x-amz-content-sha256;x-amz-date, "
     "Signature=f0e8bdb87c964420e857bd35b5d6ed310bd44f0170aba48dd91039c6036bdb41"},
    {"S3 PUT object (headers given out of order)",
     "PUT",
     "/test%24file.text",
     "",
     {{"x-amz-storage-class", "REDUCED_REDUNDANCY"},
      {"date", "Fri, 24 May 2013 00:00:00 GMT"},
      {"host", EXAMPLE_HOST},
      {"x-amz-date", "20130524T000000Z"},
      {"x-amz-content-sha256", "44ce7dd67c959e0d3524ffac1771dfbba87d2b6b4b4e99e42034a8b803f8b072"}},
     5,
     "44ce7dd67c959e0d3524ffac1771dfbba87d2b6b4b4e99e42034a8b803f8b072",
     "AWS4-HMAC-SHA256 Credential=AKIAIOSFODNN7EXAMPLE/20130524/us-east-1/s3/aws4_request, "
     "SignedHeaders=date;host;x-amz-content-sha256;x-amz-date;x-amz-storage-class, "
     "Signature=98ad721746da40c64f1a55b78f14c238d841ea1380cd77a1b5971af0ece108bd"},
    {"S3 GET bucket lifecycle (empty query value)",
     "GET",
     "/",
     "lifecycle=",
     {{"host", EXAMPLE_HOST}, {"x-amz-content-sha256", SIGV4_EMPTY_SHA256}, {"x-amz-date", "20130524T000000Z"}},
     3,
     SIGV4_EMPTY_SHA256,
     "AWS4-HMAC-SHA256 Credential=AKIAIOSFODNN7EXAMPLE/20130524/us-east-1/s3/aws4_request, "
     "SignedHeaders=host;x-amz-content-sha256;x-amz-date, "
     "Signature=fea454ca298b7da1c68078a5d1bdbfbbe0d65c699e0f91ac7a200a0136783543"},
    {"S3 list objects (two query parameters)",
     "GET",
     "/",
     "max-keys=2&prefix=J",
     {{"host", EXAMPLE_HOST}, {"x-amz-content-sha256", SIGV4_EMPTY_SHA256}, {"x-amz-date", "20130524T000000Z"}},
     3,
     SIGV4_EMPTY_SHA256,
     "AWS4-HMAC-SHA256 Credential=AKIAIOSFODNN7EXAMPLE/20130524/us-east-1/s3/aws4_request, "
     "SignedHeaders=host;x-amz-content-sha256;x-amz-date, "
     "Signature=34b48302e7b5fa45bde8084f4b7868a86f0a534bc59db6670ed5711ef69dc6f7"},
};

int main(void)
{
	char out[512];
	for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
		int rc =
		    sigv4_authorization(&s3_example, cases[i].method, cases[i].path, cases[i].query, cases[i].headers,
		                        cases[i].nheaders, cases[i].payload, "20130524T000000Z", out, sizeof out);
		tap_ok(rc == 0 && strcmp(out, cases[i].want) == 0, "%s", cases[i].desc);
		if (rc != 0 || strcmp(out, cases[i].want) != 0)
			printf("#   got %s\n", out);
	}

	/* aws-sig-v4-test-suite: get-vanilla (service "service"). */
	struct sigv4_creds suite = {"AKIDEXAMPLE", "wJalrXUtnFEMI/K7MDENG+bPxRfiCYEXAMPLEKEY", "us-east-1", "service"};
	struct sigv4_header vh[] = {{"host", "example.amazonaws.com"}, {"x-amz-date", "20150830T123600Z"}};
	int rc =
	    sigv4_authorization(&suite, "GET", "/", "", vh, 2, SIGV4_EMPTY_SHA256, "20150830T123600Z", out, sizeof out);
	tap_ok(rc == 0 &&
	           strcmp(out, "AWS4-HMAC-SHA256 Credential=AKIDEXAMPLE/20150830/us-east-1/service/aws4_request, "
	                       "SignedHeaders=host;x-amz-date, "
	                       "Signature=5fa00fa31553b73ebf1942676e86291e8372ff2a2260956d9b8aae1d763fbf31") == 0,
	       "test suite get-vanilla");

	char *url = sigv4_presign(&s3_example, "GET", "https://" EXAMPLE_HOST, EXAMPLE_HOST, "/test.txt",
	                          "20130524T000000Z", 86400);
	tap_ok(strcmp(url, "https://examplebucket.s3.amazonaws.com/test.txt?X-Amz-Algorithm=AWS4-HMAC-SHA256"
	                   "&X-Amz-Credential=AKIAIOSFODNN7EXAMPLE%2F20130524%2Fus-east-1%2Fs3%2Faws4_request"
	                   "&X-Amz-Date=20130524T000000Z&X-Amz-Expires=86400&X-Amz-SignedHeaders=host"
	                   "&X-Amz-Signature=aeeed9bbccd4d02ee5c0109b86d86835f995330da4c265957d157751f604d404") == 0,
	       "S3 presigned URL");
	printf("# presigned: %s\n", url);
	free(url);

	/* A wrong secret or date must change the signature. */
	struct sigv4_creds wrong = s3_example;
	wrong.secret_key = "wJalrXUtnFEMI/K7MDENG/bPxRfiCYEXAMPLEKEZ";
	rc = sigv4_authorization(&wrong, cases[0].method, cases[0].path, cases[0].query, cases[0].headers,
	                         cases[0].nheaders, cases[0].payload, "20130524T000000Z", out, sizeof out);
	tap_ok(rc == 0 && strcmp(out, cases[0].want) != 0, "another secret gives another signature");

	tap_ok(sigv4_authorization(&s3_example, "GET", "/", "", vh, 2, SIGV4_EMPTY_SHA256, "20130524T000000Z", out,
	                           40) == -1,
	       "too small an output buffer is an error, not a cut signature");

	char *e = sigv4_uri_encode("a b/c~d%e+f", false);
	tap_ok(strcmp(e, "a%20b%2Fc~d%25e%2Bf") == 0, "URI encoding of a query value");
	free(e);
	e = sigv4_uri_encode("berth/blobs/sha256/ab/x y", true);
	tap_ok(strcmp(e, "berth/blobs/sha256/ab/x%20y") == 0, "URI encoding of a key keeps slashes");
	free(e);
	char d[17];
	sigv4_amz_date(1369353600, d);
	tap_ok(strcmp(d, "20130524T000000Z") == 0, "amz date format");
	return tap_done();
}
