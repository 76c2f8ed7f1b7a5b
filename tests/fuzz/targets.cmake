# The fuzz targets: one source each under tests/fuzz/, seeds in corpus/<t>/,
# crash reproducers in regressions/<t>/, dictionaries in dict/<t>.dict.
set(MAG_FUZZ_TARGETS fuzz_jwt fuzz_jwks fuzz_http1_request fuzz_http1_response fuzz_config
    fuzz_jsonrpc fuzz_http2 fuzz_sse_rewriter fuzz_token_response)
