#!/bin/sh
# Makes the TLS material of the security tests in DIR (made fresh at every
# test run, so no private key is kept in the repository and none expires):
#   ca.pem            the test CA (ca.key signs)
#   server.pem/.key   server certificate for localhost and 127.0.0.1
#   client.pem/.key   client certificate signed by the test CA (mTLS)
#   other-ca.pem      a second CA that the server does not trust ...
#   other-client.pem/.key  ... and a client certificate it signed
# Usage: make_test_certs.sh DIR
set -eu
out=$1
mkdir -p "$out"
cd "$out"
days=3650
# EC P-256 keys: generated in milliseconds, unlike RSA.
key() { openssl genpkey -algorithm EC -pkeyopt ec_paramgen_curve:P-256 -out "$1" 2>/dev/null; }

# ca NAME CN: a self-signed CA certificate NAME.pem with key NAME.key.
ca() {
  key "$1.key"
  openssl req -x509 -new -key "$1.key" -out "$1.pem" -days "$days" \
    -subj "/CN=$2" -addext "basicConstraints=critical,CA:TRUE" \
    -addext "keyUsage=critical,keyCertSign,cRLSign"
}

# leaf NAME CN CA EXTENSIONS: NAME.pem with key NAME.key, signed by CA.
leaf() {
  key "$1.key"
  openssl req -new -key "$1.key" -out "$1.csr" -subj "/CN=$2"
  printf '%s\n' "$4" > "$1.ext"
  openssl x509 -req -in "$1.csr" -CA "$3.pem" -CAkey "$3.key" \
    -CAcreateserial -out "$1.pem" -days "$days" -extfile "$1.ext" 2>/dev/null
  rm -f "$1.csr" "$1.ext"
}

ca ca "tinylm test CA"
leaf server localhost ca "subjectAltName=DNS:localhost,IP:127.0.0.1
extendedKeyUsage=serverAuth"
leaf client "tinylm test client" ca "extendedKeyUsage=clientAuth"
ca other-ca "tinylm untrusted CA"
leaf other-client "tinylm untrusted client" other-ca "extendedKeyUsage=clientAuth"
rm -f ./*.srl
echo "test certificates in $out"
