#!/usr/bin/env bash
# Fills fuzz/corpus/<target>/ with seed inputs made from fixtures/ (git-ignored; run before
# every fuzzing session: seeds already there are overwritten, inputs libFuzzer found are
# kept). Usage: fuzz/seed.sh
set -euo pipefail
FUZZ_DIR="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
FIXTURES="$FUZZ_DIR/../fixtures"
CORPUS="$FUZZ_DIR/corpus"
mkdir -p "$CORPUS/token_pipeline" "$CORPUS/jwks_parser" "$CORPUS/config_parser" "$CORPUS/ec_differential" "$CORPUS/route_match"

# token_pipeline: every scenario token, as sent and inside an Authorization value.
for f in "$FIXTURES"/tokens/*.jwt; do
  name="$(basename "$f" .jwt)"
  cp "$f" "$CORPUS/token_pipeline/seed-$name"
done
for name in valid-rs256 valid-es256 valid-eddsa valid-hs256 expired; do
  printf 'Bearer %s' "$(cat "$FIXTURES/tokens/$name.jwt")" >"$CORPUS/token_pipeline/seed-bearer-$name"
done
printf 'Bearer a.b.c, Bearer d.e.f' >"$CORPUS/token_pipeline/seed-bearer-twice"
printf 'bearer \t x.y.z \t' >"$CORPUS/token_pipeline/seed-bearer-ows"

# jwks_parser: every fixture key set, the discovery template, and Cache-Control values.
for f in "$FIXTURES"/jwks/*.json; do
  cp "$f" "$CORPUS/jwks_parser/seed-$(basename "$f" .json)"
done
cp "$FIXTURES/discovery/openid-configuration.json" "$CORPUS/jwks_parser/seed-discovery"
printf '{"keys":[]}' >"$CORPUS/jwks_parser/seed-empty"
printf 'public, max-age=1200' >"$CORPUS/jwks_parser/seed-cc-max-age"
printf 'no-store' >"$CORPUS/jwks_parser/seed-cc-no-store"
printf 'MAX-AGE="120", must-revalidate' >"$CORPUS/jwks_parser/seed-cc-quoted"

# config_parser: ISSUERS text, a 0 byte, then KEY=VALUE lines.
secret="$(tr -d '\n' <"$FIXTURES/keys/hs-secret.txt")"
issuer='"issuer":"https://issuer.fixtures.test/"'
aud='"audiences":["api://edgeguard-fixtures","other"]'
seed() { printf '%s' "$2" >"$CORPUS/config_parser/seed-$1"; }
seed one-uri "[{$issuer,\"jwks_uri\":\"https://issuer.fixtures.test/jwks\",$aud}]"
seed discovery "[{$issuer,$aud}]"
seed loopback '[{"issuer":"http://127.0.0.1:8787/","jwks_uri":"http://localhost:9/jwks","audiences":["a"]}]'
seed hs "[{$issuer,$aud,\"jwks_uri\":\"https://i.test/j\",\"algorithms\":[\"RS256\",\"ES256\",\"EdDSA\",\"HS256\",\"HS384\",\"HS512\"],\"secret\":\"$secret\"}]"
seed two "[{$issuer,$aud},{\"issuer\":\"https://login.example.com/tenant/\",\"audiences\":[\"api://orders\"],\"algorithms\":[\"PS256\"]}]"
seed duplicate-key '[{"issuer":"a","issuer":"b","audiences":["x"]}]'
printf '%s\0%s' "[{$issuer,$aud}]" $'ORIGIN=https://origin.test/base\nLEEWAY_SECONDS=30\nSTRIP_AUTHORIZATION=true\nAUTH_REALM=api\nSUBJECT_HEADER=X-User\nISSUER_HEADER=X-Iss\nCLAIMS_HEADER=X-Claims\nMAX_TOKEN_BYTES=4096\nMAX_ISSUERS=2' \
  >"$CORPUS/config_parser/seed-vars"
printf '%s\0%s' "[{$issuer,$aud}]" $'JWKS_TIMEOUT_MS=2000\nJWKS_MAX_BYTES=65536\nJWKS_MAX_KEYS=10\nJWKS_MIN_TTL_SECONDS=30\nJWKS_MAX_TTL_SECONDS=7200\nJWKS_DEFAULT_TTL_SECONDS=300\nJWKS_MAX_STALE_SECONDS=3600\nJWKS_REFETCH_COOLDOWN_SECONDS=10\nRETRY_AFTER_SECONDS=5\nTOKEN_CACHE_ENTRIES=0' \
  >"$CORPUS/config_parser/seed-vars-jwks"
printf '\0%s' 'ORIGIN=http://localhost:8080' >"$CORPUS/config_parser/seed-no-issuers"
# Uppercase ASCII before non-ASCII in a host label: idna_adapter 1.0.0's debug assert (see
# fuzz/Cargo.toml); kept as a seed so every run goes through that path.
printf '%s\0%s' "[{$issuer,$aud,\"jwks_uri\":\"https://B%C3%A9/jwks\"}]" 'ORIGIN=https://Bé/' \
  >"$CORPUS/config_parser/seed-idna-uppercase"

# ec_differential: a selector byte (even: P-256, odd: Ed25519), then four 32-byte values.
{ printf 'P'; head -c 128 "$FIXTURES/tokens/valid-es256.jwt"; } >"$CORPUS/ec_differential/seed-p256"
{ printf 'E'; head -c 128 "$FIXTURES/tokens/valid-eddsa.jwt"; } >"$CORPUS/ec_differential/seed-ed25519"

# route_match: ROUTES JSON, a 0 byte, a method line, the raw path (or only a path).
route() { printf '%s\0%s\n%s' "$2" "$3" "$4" >"$CORPUS/route_match/seed-$1"; }
route prefix '[{"prefix":"/admin/","scopes":["admin"]},{"prefix":"/public/","auth":"public"}]' GET '/%61dmin//x/../y'
route glob '[{"path":"/users/*/profile","methods":["GET","PUT"]},{"path":"/static/**","auth":"public"}]' PUT '/users/42/profile;x'
route globs '[{"path":"/**/**/**/**/**/**/**/**/a"},{"path":"/*/*/*/*/*/*/*/*/*/b"}]' GET '/x/x/x/x/x/x/x/x/x/x/x/x/x/x/x/x/x/x/x/x/c'
route claims '[{"prefix":"/t/","claims":{"tenant":"a"},"issuers":["https://i/"]}]' POST '/T/%2e%2E/t/'
printf '%s' '/a/./b/%2F/../%7Euser' >"$CORPUS/route_match/seed-path-only"

for t in token_pipeline jwks_parser config_parser ec_differential route_match; do
  printf '==> corpus/%s: %s inputs\n' "$t" "$(find "$CORPUS/$t" -type f | wc -l)" >&2
done
