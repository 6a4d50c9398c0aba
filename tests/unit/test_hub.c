/* Unit tests for lib/hub: URL encoding, cache names, etags, name safety,
 * token lookup order, origins. */
#include "check.h"
#include "err.h"
#include "hub.h"
#include "io.h"

#include <stdlib.h>
#include <string.h>
#include <unistd.h>

static int
eq_free(char *got, const char *want)
{
	int ok = got != NULL && strcmp(got, want) == 0;

	if (!ok)
		fprintf(stderr, "got '%s', want '%s'\n", got ? got : "(null)", want);
	free(got);
	return ok;
}

static void
test_quote(void)
{
	CHECK(eq_free(ft_hub_quote("refs/convert/parquet", 0), "refs%2Fconvert%2Fparquet"));
	CHECK(eq_free(ft_hub_quote("main", 0), "main"));
	CHECK(eq_free(ft_hub_quote("a b/c d.json", 1), "a%20b/c%20d.json"));
	CHECK(eq_free(ft_hub_quote("caf\xc3\xa9?#&=+", 1), "caf%C3%A9%3F%23%26%3D%2B"));
	CHECK(eq_free(ft_hub_quote("A-z_0.9~", 0), "A-z_0.9~"));
	CHECK(eq_free(ft_hub_quote("", 0), ""));
}

static void
test_names(void)
{
	CHECK(eq_free(ft_hub_repo_folder("model", "distilgpt2"), "models--distilgpt2"));
	CHECK(eq_free(ft_hub_repo_folder("model", "distilbert/distilgpt2"),
		"models--distilbert--distilgpt2"));
	CHECK(eq_free(ft_hub_repo_folder("dataset", "kkawamu1/shakespeares_sonnets"),
		"datasets--kkawamu1--shakespeares_sonnets"));
	CHECK(eq_free(ft_hub_file_url("https://huggingface.co", "model", "distilgpt2",
		NULL, "config.json"), "https://huggingface.co/distilgpt2/resolve/main/config.json"));
	CHECK(eq_free(ft_hub_file_url("http://h:1", "dataset", "o/d", "refs/convert/parquet",
		"default/train/0000.parquet"),
		"http://h:1/datasets/o/d/resolve/refs%2Fconvert%2Fparquet/default/train/0000.parquet"));
	CHECK(eq_free(ft_hub_link_target("config.json", "abc"), "../../blobs/abc"));
	CHECK(eq_free(ft_hub_link_target("a/b/c.json", "abc"), "../../../../blobs/abc"));
}

static void
test_etag(void)
{
	CHECK(eq_free(ft_hub_etag_normalize("\"abc\""), "abc"));
	CHECK(eq_free(ft_hub_etag_normalize("W/\"abc\""), "abc"));
	CHECK(eq_free(ft_hub_etag_normalize("abc"), "abc"));
	CHECK(eq_free(ft_hub_etag_normalize(" W/\"x-1\" "), "x-1"));
	CHECK(eq_free(ft_hub_etag_normalize("\""), "\""));
	CHECK(ft_hub_etag_safe("e2a5d2c2a6b8b5b1a1f1c8c5b1a1f1c8c5b1a1f1"));
	CHECK(ft_hub_etag_safe("a-b_c.d"));
	CHECK(!ft_hub_etag_safe(""));
	CHECK(!ft_hub_etag_safe("../x"));
	CHECK(!ft_hub_etag_safe(".hidden"));
	CHECK(!ft_hub_etag_safe("a/b"));
	CHECK(!ft_hub_etag_safe("a b"));
	{
		char long_tag[130];
		memset(long_tag, 'a', 129);
		long_tag[129] = '\0';
		CHECK(!ft_hub_etag_safe(long_tag));
		long_tag[128] = '\0';
		CHECK(ft_hub_etag_safe(long_tag));
	}
}

static void
test_safety(void)
{
	CHECK(ft_hub_path_safe("config.json"));
	CHECK(ft_hub_path_safe("a/b.json"));
	CHECK(ft_hub_path_safe("..."));
	CHECK(ft_hub_path_safe("a..b"));
	CHECK(!ft_hub_path_safe(""));
	CHECK(!ft_hub_path_safe(".."));
	CHECK(!ft_hub_path_safe("../x"));
	CHECK(!ft_hub_path_safe("a/../b"));
	CHECK(!ft_hub_path_safe("a/.."));
	CHECK(!ft_hub_path_safe("./a"));
	CHECK(!ft_hub_path_safe("/etc/passwd"));
	CHECK(!ft_hub_path_safe("a//b"));
	CHECK(!ft_hub_path_safe("a/"));
	CHECK(!ft_hub_path_safe("a\tb"));
	CHECK(!ft_hub_path_safe("a\nb"));
	CHECK(!ft_hub_path_safe("a\x7f"));
	CHECK(!ft_hub_path_safe("a\\..\\b"));
	CHECK(ft_hub_revision_safe("refs/pr/1"));
	CHECK(!ft_hub_revision_safe("../main"));
	CHECK(ft_hub_repo_valid("distilgpt2"));
	CHECK(ft_hub_repo_valid("distilbert/distilgpt2"));
	CHECK(ft_hub_repo_valid("kkawamu1/shakespeares_sonnets"));
	CHECK(!ft_hub_repo_valid(""));
	CHECK(!ft_hub_repo_valid("a/b/c"));
	CHECK(!ft_hub_repo_valid("a--b"));
	CHECK(!ft_hub_repo_valid("../x"));
	CHECK(!ft_hub_repo_valid("/x"));
	CHECK(!ft_hub_repo_valid("x/"));
	CHECK(!ft_hub_repo_valid("a b"));
	CHECK(!ft_hub_repo_valid("-x"));
	CHECK(ft_hub_is_commit("0123456789abcdef0123456789abcdef01234567"));
	CHECK(!ft_hub_is_commit("0123456789ABCDEF0123456789abcdef01234567"));
	CHECK(!ft_hub_is_commit("main"));
	CHECK(!ft_hub_is_commit("0123456789abcdef0123456789abcdef012345670"));
}

static void
test_origin(void)
{
	CHECK(ft_hub_same_origin("http://127.0.0.1:80/x", "http://127.0.0.1/y"));
	CHECK(ft_hub_same_origin("https://HuggingFace.co/a", "https://huggingface.co"));
	CHECK(!ft_hub_same_origin("https://huggingface.co/a", "http://huggingface.co/a"));
	CHECK(!ft_hub_same_origin("http://127.0.0.1:1/a", "http://127.0.0.1:2/a"));
	CHECK(!ft_hub_same_origin("https://cdn-lfs.huggingface.co/x", "https://huggingface.co"));
	CHECK(!ft_hub_same_origin("not a url", "https://huggingface.co"));
}

static void
test_env(void)
{
	const char *yes[] = { "1", "ON", "yes", "True" }, *no[] = { "0", "", "no", "off", "2" };

	for (size_t i = 0; i < 4; i++) {
		setenv("FT_TEST_FLAG", yes[i], 1);
		CHECK(ft_hub_env_true("FT_TEST_FLAG"));
	}
	for (size_t i = 0; i < 5; i++) {
		setenv("FT_TEST_FLAG", no[i], 1);
		CHECK(!ft_hub_env_true("FT_TEST_FLAG"));
	}
	unsetenv("FT_TEST_FLAG");
	CHECK(!ft_hub_env_true("FT_TEST_FLAG"));
}

static void
write_text(const char *path, const char *text)
{
	FILE *fp = fopen(path, "w");

	CHECK(fp != NULL);
	if (fp != NULL) {
		fputs(text, fp);
		fclose(fp);
	}
}

static void
test_token(void)
{
	char dir[] = "/tmp/ft-test-hub.XXXXXX", *p, *home;

	CHECK(mkdtemp(dir) != NULL);
	unsetenv("HF_TOKEN");
	unsetenv("HUGGING_FACE_HUB_TOKEN");
	unsetenv("HF_TOKEN_PATH");
	home = ft_path_join(dir, "home");
	CHECK(ft_mkdir_p(home, 0777) == 0);
	setenv("HF_HOME", home, 1);
	CHECK(ft_hub_token() == NULL);

	/* 4: $HF_HOME/token */
	p = ft_path_join(home, "token");
	write_text(p, "tok4\n");
	free(p);
	CHECK(eq_free(ft_hub_token(), "tok4"));
	/* 3: HF_TOKEN_PATH wins over $HF_HOME/token */
	p = ft_path_join(dir, "tokfile");
	write_text(p, "  tok3\r\n");
	setenv("HF_TOKEN_PATH", p, 1);
	CHECK(eq_free(ft_hub_token(), "tok3"));
	free(p);
	/* 2: the legacy variable */
	setenv("HUGGING_FACE_HUB_TOKEN", "tok2", 1);
	CHECK(eq_free(ft_hub_token(), "tok2"));
	/* 1: HF_TOKEN first, cleaned; empty means "look further" */
	setenv("HF_TOKEN", " to\nk1\r ", 1);
	CHECK(eq_free(ft_hub_token(), "tok1"));
	setenv("HF_TOKEN", "  \n", 1);
	CHECK(eq_free(ft_hub_token(), "tok2"));
	/* Control characters: ignored (with a warning) like an empty one,
	 * rather than sent as a broken header. */
	setenv("HF_TOKEN", "a\x01" "b", 1);
	CHECK(eq_free(ft_hub_token(), "tok2"));
	unsetenv("HF_TOKEN");
	unsetenv("HUGGING_FACE_HUB_TOKEN");
	unsetenv("HF_TOKEN_PATH");
	/* XDG default for HF_HOME */
	unsetenv("HF_HOME");
	setenv("XDG_CACHE_HOME", dir, 1);
	p = ft_path_join(dir, "huggingface");
	CHECK(ft_mkdir_p(p, 0777) == 0);
	free(p);
	p = ft_path_join(dir, "huggingface/token");
	write_text(p, "tok5");
	free(p);
	CHECK(eq_free(ft_hub_token(), "tok5"));
	p = ft_path_join(dir, "huggingface");
	CHECK(eq_free(ft_hub_home_dir(), p));
	free(p);
	unsetenv("XDG_CACHE_HOME");
	ft_remove_tree(dir);
	free(home);
}

static void
rows_case(const char *in, const char *want, long long want_n)
{
	char *buf = NULL;
	size_t n = 0;
	long long count = -1;
	FILE *fp = open_memstream(&buf, &n);
	int rc = ft_hub_rows_write(in, strlen(in), fp, &count);

	fclose(fp);
	if (want == NULL) {
		CHECK(rc == -1);
	} else {
		CHECK(rc == 0);
		CHECK_EQ_INT(count, want_n);
		CHECK(strcmp(buf, want) == 0);
		if (strcmp(buf, want) != 0)
			fprintf(stderr, "got  %s\nwant %s\n", buf, want);
	}
	free(buf);
}

static void
test_rows(void)
{
	rows_case("{\"features\":[{\"name\":\"rows\"}],\"rows\":[]}", "", 0);
	rows_case(" { \"rows\" : [ { \"row_idx\" : 0 , \"row\" : { \"b\" : 1.0 , \"a\" : "
		"[ -0 , 1e5 , 12345678901234567890 , true , null , { } , [ ] ] } , "
		"\"truncated_cells\" : [ ] } ] , \"num_rows_total\" : 1 } ",
		"{\"b\":1.0,\"a\":[-0,1e5,12345678901234567890,true,null,{},[]]}\n", 1);
	/* Strings: escapes decoded, then re-escaped minimally. */
	rows_case("{\"rows\":[{\"row\":{\"t\":\"\\u00e9\\/\\ud83c\\udf39\\u0001\\n\\\"\\\\\\ud800x\"}},"
		"{\"row_idx\":1,\"row\":{\"t\":\"caf\xc3\xa9\"}}]}",
		"{\"t\":\"\xc3\xa9/\xf0\x9f\x8c\xb9\\u0001\\n\\\"\\\\\\ud800x\"}\n{\"t\":\"caf\xc3\xa9\"}\n", 2);
	rows_case("{\"rows\":[{\"row\":{\"t\":\"x\"}}", NULL, 0);
	rows_case("{\"rows\":{}}", NULL, 0);
	rows_case("{\"other\":1}", NULL, 0);
	rows_case("[]", NULL, 0);
	rows_case("{\"rows\":[{\"row\":{\"t\":\"\\q\"}}]}", NULL, 0);
}

int
main(void)
{
	ft_setprog("test_hub");
	test_quote();
	test_names();
	test_etag();
	test_safety();
	test_origin();
	test_env();
	test_token();
	test_rows();
	return check_done();
}
