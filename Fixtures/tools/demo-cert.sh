#!/usr/bin/env bash
# demo-cert.sh [DIR] [PORT] - the demo's TLS certificate (`make run`), made once with the openssl CLI:
#   DIR/ca.pem, DIR/ca.key          a local CA, name-constrained to localhost and 127.0.0.0/8 (so
#                                   trusting it cannot vouch for any real site)
#   DIR/server.crt, DIR/server.key  a server certificate for localhost and 127.0.0.1 signed by it
# DIR defaults to $SWITCHYARD_ROOT/.demo-tls (git-ignored): keys are never committed. Existing
# files are kept while the server certificate is valid for another day. Prints how to trust the CA.
set -euo pipefail

DIR=${1:-${SWITCHYARD_ROOT:-$PWD}/.demo-tls}
PORT=${2:-8443}
command -v openssl >/dev/null || { echo "demo-cert: the openssl command is missing (apt-get install openssl)" >&2; exit 1; }

mkdir -p "$DIR"
chmod 700 "$DIR"
cd "$DIR"

if [ -s server.crt ] && [ -s server.key ] && [ -s ca.pem ] &&
   openssl x509 -in server.crt -noout -checkend 86400 >/dev/null 2>&1; then
    made="kept"
else
    umask 077
    cat > ca.cnf <<'CNF'
[req]
distinguished_name = dn
prompt = no
[dn]
CN = Switchyard demo CA (local)
[ca]
basicConstraints = critical, CA:TRUE, pathlen:0
keyUsage = critical, keyCertSign, cRLSign
nameConstraints = critical, permitted;DNS:localhost, permitted;IP:127.0.0.0/255.0.0.0
subjectKeyIdentifier = hash
[server]
basicConstraints = critical, CA:FALSE
keyUsage = critical, digitalSignature
extendedKeyUsage = serverAuth
subjectAltName = DNS:localhost, IP:127.0.0.1
authorityKeyIdentifier = keyid
CNF
    openssl req -x509 -new -newkey ec -pkeyopt ec_paramgen_curve:P-256 -nodes -keyout ca.key -out ca.pem \
        -days 825 -config ca.cnf -extensions ca 2>/dev/null
    openssl req -new -newkey ec -pkeyopt ec_paramgen_curve:P-256 -nodes -keyout server.key -out server.csr \
        -subj "/CN=localhost" 2>/dev/null
    openssl x509 -req -in server.csr -CA ca.pem -CAkey ca.key -CAcreateserial -out server.crt \
        -days 365 -extfile ca.cnf -extensions server 2>/dev/null
    rm -f server.csr ca.srl
    chmod 600 ca.key server.key
    chmod 644 ca.pem server.crt
    made="made"
fi

cat <<MSG
Switchyard demo TLS: https://localhost:$PORT/  (certificate $made in $DIR)
  trust its local CA (only valid for localhost and 127.0.0.0/8):
    curl --cacert $DIR/ca.pem https://localhost:$PORT/
    Chromium (NSS): certutil -d sql:\$HOME/.pki/nssdb -A -t "C,," -n "Switchyard demo CA" -i $DIR/ca.pem
      (certutil: apt-get install libnss3-tools; a new db first: certutil -d sql:\$HOME/.pki/nssdb -N --empty-password)
MSG
