{{/* Chart name. */}}
{{- define "wallet.name" -}}
{{- default .Chart.Name .Values.nameOverride | trunc 63 | trimSuffix "-" -}}
{{- end -}}

{{/* Fully qualified app name (<release>-wallet unless the release name already contains it). */}}
{{- define "wallet.fullname" -}}
{{- if .Values.fullnameOverride -}}
{{- .Values.fullnameOverride | trunc 63 | trimSuffix "-" -}}
{{- else -}}
{{- $name := default .Chart.Name .Values.nameOverride -}}
{{- if contains $name .Release.Name -}}
{{- .Release.Name | trunc 63 | trimSuffix "-" -}}
{{- else -}}
{{- printf "%s-%s" .Release.Name $name | trunc 63 | trimSuffix "-" -}}
{{- end -}}
{{- end -}}
{{- end -}}

{{- define "wallet.chart" -}}
{{- printf "%s-%s" .Chart.Name .Chart.Version | replace "+" "_" | trunc 63 | trimSuffix "-" -}}
{{- end -}}

{{/* Common labels. */}}
{{- define "wallet.labels" -}}
helm.sh/chart: {{ include "wallet.chart" . }}
app.kubernetes.io/name: {{ include "wallet.name" . }}
app.kubernetes.io/instance: {{ .Release.Name }}
app.kubernetes.io/version: {{ .Values.image.tag | default .Chart.AppVersion | trunc 63 | quote }}
app.kubernetes.io/managed-by: {{ .Release.Service }}
app.kubernetes.io/part-of: wallet
wallet.example.com/region: {{ .Values.region }}
{{- end -}}

{{/* Selector labels of the server pods. */}}
{{- define "wallet.selectorLabels" -}}
app.kubernetes.io/name: {{ include "wallet.name" . }}
app.kubernetes.io/instance: {{ .Release.Name }}
app.kubernetes.io/component: server
{{- end -}}

{{- define "wallet.serviceAccountName" -}}
{{- if .Values.serviceAccount.create -}}
{{- default (include "wallet.fullname" .) .Values.serviceAccount.name -}}
{{- else -}}
{{- default "default" .Values.serviceAccount.name -}}
{{- end -}}
{{- end -}}

{{- define "wallet.image" -}}
{{- if .Values.image.digest -}}
{{- printf "%s@%s" .Values.image.repository .Values.image.digest -}}
{{- else -}}
{{- printf "%s:%s" .Values.image.repository (.Values.image.tag | default .Chart.AppVersion) -}}
{{- end -}}
{{- end -}}

{{/*
Semantic checks the JSON schema cannot express: unique shard names, bucket ranges
that cover 0..buckets-1 exactly, peers listed once and none named like this region,
a Secret key per secret, Kafka's TLS and SASL settings consistent.
*/}}
{{- define "wallet.validate" -}}
{{- $B := int .Values.buckets -}}
{{- $total := 0 -}}
{{- $seen := dict -}}
{{- $ranges := list -}}
{{- range .Values.shards -}}
{{- $name := .name -}}
{{- if hasKey $seen $name -}}
{{- fail (printf "shards: duplicate shard name %q" $name) -}}
{{- end -}}
{{- $_ := set $seen $name true -}}
{{- $parts := splitList "-" .buckets -}}
{{- $lo := atoi (index $parts 0) -}}
{{- $hi := atoi (index $parts 1) -}}
{{- if or (gt $lo $hi) (ge $hi $B) -}}
{{- fail (printf "shards: %s has bucket range %q outside 0-%d" $name .buckets (sub $B 1)) -}}
{{- end -}}
{{- range $ranges -}}
{{- if and (le (index . 0) $hi) (ge (index . 1) $lo) -}}
{{- fail (printf "shards: %s bucket range %d-%d overlaps %s" $name $lo $hi (index . 2)) -}}
{{- end -}}
{{- end -}}
{{- $ranges = append $ranges (list $lo $hi $name) -}}
{{- $total = add $total (sub $hi $lo) 1 -}}
{{- end -}}
{{- if ne (int $total) $B -}}
{{- fail (printf "shards: bucket ranges cover %d of %d buckets; they must cover 0-%d exactly" (int $total) $B (sub $B 1)) -}}
{{- end -}}
{{- $peers := dict -}}
{{- range .Values.peers -}}
{{- if eq .name $.Values.region -}}
{{- fail (printf "peers: %q is this release's own region" .name) -}}
{{- end -}}
{{- if hasKey $peers .name -}}
{{- fail (printf "peers: duplicate peer %q" .name) -}}
{{- end -}}
{{- $_ := set $peers .name true -}}
{{- end -}}
{{- include "wallet.validateSecrets" . -}}
{{- include "wallet.validateKafka" . -}}
{{- end -}}

{{/*
The wallet refuses a secret used twice (the region's, the ledger seal's, each peer
pair's): refuse two of them naming the same Secret key, which would hold the same
value. The seal secret must not sit in a Secret that also holds a shard's DSN: whoever
can read the DSNs could then forge the seals.
*/}}
{{- define "wallet.validateSecrets" -}}
{{- $uses := dict -}}
{{- $refs := list (list "auth.regionSecret" .Values.auth.regionSecret) (list "auth.ledgerSealSecret" .Values.auth.ledgerSealSecret) -}}
{{- range .Values.peers -}}
{{- $refs = append $refs (list (printf "peers[%s].secret" .name) (include "wallet.peerSecret" . | fromJson)) -}}
{{- end -}}
{{- range $refs -}}
{{- $where := index . 0 -}}
{{- $ref := index . 1 -}}
{{- $id := printf "%s/%s" $ref.name $ref.key -}}
{{- if hasKey $uses $id -}}
{{- fail (printf "%s and %s both name Secret %s key %s; each needs a secret of its own" (get $uses $id) $where $ref.name $ref.key) -}}
{{- end -}}
{{- $_ := set $uses $id $where -}}
{{- end -}}
{{- $seal := .Values.auth.ledgerSealSecret.name -}}
{{- range .Values.shards -}}
{{- if or (eq .dsnSecret.name $seal) (eq .ownerDsnSecret.name $seal) -}}
{{- fail (printf "auth.ledgerSealSecret names Secret %s, which also holds shard %s's DSN; keep the seal secret where the database's administrators cannot read it" $seal .name) -}}
{{- end -}}
{{- end -}}
{{- end -}}

{{/*
Kafka TLS and SASL settings the wallet would refuse at start, or that would have no
effect: a SASL identity without TLS (its password in the clear), a mechanism without
a user and a password Secret, a user or password without a mechanism, a CA or a
server name with TLS off.
*/}}
{{- define "wallet.validateKafka" -}}
{{- $tls := .Values.kafka.tls -}}
{{- $sasl := .Values.kafka.sasl -}}
{{- if $sasl.mechanism -}}
{{- if not $tls.enabled -}}
{{- fail (printf "kafka.sasl.mechanism %s needs kafka.tls.enabled: without TLS the region's password would cross the network in the clear" $sasl.mechanism) -}}
{{- end -}}
{{- if or (not $sasl.username) (not $sasl.passwordSecret.name) -}}
{{- fail (printf "kafka.sasl.mechanism %s needs kafka.sasl.username and kafka.sasl.passwordSecret.name" $sasl.mechanism) -}}
{{- end -}}
{{- else if or $sasl.username $sasl.passwordSecret.name -}}
{{- fail "kafka.sasl has a username or a passwordSecret but no mechanism (SCRAM-SHA-256 or SCRAM-SHA-512)" -}}
{{- end -}}
{{- if and (not $tls.enabled) (or $tls.caSecret.name $tls.serverName) -}}
{{- fail "kafka.tls.caSecret or kafka.tls.serverName is set but kafka.tls.enabled is false" -}}
{{- end -}}
{{- end -}}

{{/*
The Secret holding a peer pair's secret, as JSON {name, key}: the item's own, or
wallet-peer-<name> / secret.
*/}}
{{- define "wallet.peerSecret" -}}
{{- $s := get . "secret" | default dict -}}
{{- dict "name" (get $s "name" | default (printf "wallet-peer-%s" .name)) "key" (get $s "key" | default "secret") | toJson -}}
{{- end -}}

{{/* Where the server pods mount the Kafka CA bundle (kafka.tls.caSecret). */}}
{{- define "wallet.kafkaCADir" -}}/etc/wallet-kafka-ca{{- end -}}

{{/* wallet.yaml of the server. Contains no secrets. */}}
{{- define "wallet.config" -}}
{{- include "wallet.renderConfig" (dict "root" . "kafkaSecurity" true) -}}
{{- end -}}

{{/*
wallet.yaml of the migration Job: the server's without Kafka's TLS and SASL. The Job
never talks to Kafka and holds no Kafka password, which the wallet would require of a
configuration naming a SASL mechanism.
*/}}
{{- define "wallet.migrateConfig" -}}
{{- include "wallet.renderConfig" (dict "root" . "kafkaSecurity" false) -}}
{{- end -}}

{{/*
wallet.yaml from .root's values, with Kafka's TLS and SASL when .kafkaSecurity. The
profile is always production: peers are reached over https.
*/}}
{{- define "wallet.renderConfig" -}}
{{- $kafkaSecurity := .kafkaSecurity -}}
{{- with .root -}}
{{- include "wallet.validate" . -}}
region: {{ .Values.region | quote }}
profile: "production"
buckets: {{ int .Values.buckets }}
http:
  addr: {{ printf "0.0.0.0:%d" (int .Values.http.port) | quote }}
  admin_addr: {{ printf "0.0.0.0:%d" (int .Values.http.adminPort) | quote }}
  read_timeout: {{ .Values.http.readTimeout | quote }}
  write_timeout: {{ .Values.http.writeTimeout | quote }}
  idle_timeout: {{ .Values.http.idleTimeout | quote }}
  shutdown_timeout: {{ .Values.http.shutdownTimeout | quote }}
  max_body_bytes: {{ int64 .Values.http.maxBodyBytes }}
shards:
{{- range .Values.shards }}
  {{ .name }}:
    buckets: {{ .buckets | quote }}
{{- end }}
kafka:
  brokers:
{{- range .Values.kafka.brokers }}
    - {{ . | quote }}
{{- end }}
  topic_prefix: {{ .Values.kafka.topicPrefix | quote }}
{{- if $kafkaSecurity }}
{{- with .Values.kafka.tls }}
  tls:
    enabled: {{ .enabled }}
{{- if .caSecret.name }}
    ca_file: {{ printf "%s/ca.crt" (include "wallet.kafkaCADir" $) | quote }}
{{- end }}
{{- if .serverName }}
    server_name: {{ .serverName | quote }}
{{- end }}
{{- end }}
{{- with .Values.kafka.sasl }}
{{- if .mechanism }}
  sasl:
    mechanism: {{ .mechanism | quote }}
    username: {{ .username | quote }}
{{- end }}
{{- end }}
{{- end }}
{{- if .Values.peers }}
peers:
{{- range .Values.peers }}
  {{ .name }}:
    url: {{ .url | quote }}
{{- end }}
{{- else }}
peers: {}
{{- end }}
limits:
  rate_per_second: {{ .Values.limits.ratePerSecond }}
  rate_burst: {{ int64 .Values.limits.rateBurst }}
idempotency:
  retention: {{ .Values.idempotency.retention | quote }}
webhooks:
  retry_delays: {{ .Values.webhooks.retryDelays | quote }}
  timeout: {{ .Values.webhooks.timeout | quote }}
  secret_overlap: {{ .Values.webhooks.secretOverlap | quote }}
  log_retention: {{ .Values.webhooks.logRetention | quote }}
currencies:
  default: {{ .Values.currencies.default | quote }}
{{- with .Values.currencies.assets }}
  assets:
{{- range $code, $asset := . }}
    {{ $code }}:
      exponent: {{ int $asset.exponent }}
      name: {{ get $asset "name" | default $code | quote }}
{{- end }}
{{- end }}
{{- with .Values.auth.gatewayScopes }}
auth:
  gateway_scopes:
{{- range $gateway, $scopes := . }}
    {{ $gateway }}: [{{ range $i, $s := $scopes }}{{ if $i }}, {{ end }}{{ $s | quote }}{{ end }}]
{{- end }}
{{- end }}
database:
  app_role: {{ .Values.database.appRole | quote }}
log:
  level: {{ .Values.log.level | quote }}
tracing:
  otlp_endpoint: {{ .Values.tracing.otlpEndpoint | quote }}
  sample_ratio: {{ .Values.tracing.sampleRatio }}
  service_name: {{ .Values.tracing.serviceName | quote }}
  batch_timeout: {{ .Values.tracing.batchTimeout | quote }}
{{- end -}}
{{- end -}}

{{/*
Environment of the server. Secrets only ever arrive through secretKeyRef; the chart
never sees their values.
*/}}
{{- define "wallet.env" -}}
{{- range .Values.shards }}
- name: WALLET_SHARDS__{{ upper .name }}__DSN
  valueFrom:
    secretKeyRef:
      name: {{ .dsnSecret.name | quote }}
      key: {{ get .dsnSecret "key" | default "dsn" | quote }}
{{- end }}
{{- range .Values.auth.gatewayTokensSecret.gateways }}
- name: WALLET_AUTH__GATEWAY_TOKENS__{{ upper . }}
  valueFrom:
    secretKeyRef:
      name: {{ $.Values.auth.gatewayTokensSecret.name | quote }}
      key: {{ . | quote }}
{{- end }}
- name: WALLET_AUTH__REGION_SECRET
  valueFrom:
    secretKeyRef:
      name: {{ .Values.auth.regionSecret.name | quote }}
      key: {{ .Values.auth.regionSecret.key | quote }}
- name: WALLET_AUTH__LEDGER_SEAL_SECRET
  valueFrom:
    secretKeyRef:
      name: {{ .Values.auth.ledgerSealSecret.name | quote }}
      key: {{ .Values.auth.ledgerSealSecret.key | quote }}
{{- range .Values.peers }}
{{- $secret := include "wallet.peerSecret" . | fromJson }}
- name: WALLET_PEERS__{{ upper .name }}__SECRET
  valueFrom:
    secretKeyRef:
      name: {{ $secret.name | quote }}
      key: {{ $secret.key | quote }}
{{- end }}
{{- if .Values.kafka.sasl.mechanism }}
- name: WALLET_KAFKA__SASL__PASSWORD
  valueFrom:
    secretKeyRef:
      name: {{ .Values.kafka.sasl.passwordSecret.name | quote }}
      key: {{ .Values.kafka.sasl.passwordSecret.key | quote }}
{{- end }}
- name: GOMEMLIMIT
  valueFrom:
    resourceFieldRef:
      resource: limits.memory
{{- end -}}

{{/*
Environment of the migration Job: the owners' DSNs and nothing else. It never holds
the server's DSNs, the gateway tokens, the region's, the peers' or the ledger seal's
secrets, nor the Kafka password.
*/}}
{{- define "wallet.migrateEnv" -}}
{{- range .Values.shards }}
- name: WALLET_SHARDS__{{ upper .name }}__OWNER_DSN
  valueFrom:
    secretKeyRef:
      name: {{ .ownerDsnSecret.name | quote }}
      key: {{ get .ownerDsnSecret "key" | default "dsn" | quote }}
{{- end }}
- name: GOMEMLIMIT
  valueFrom:
    resourceFieldRef:
      resource: limits.memory
{{- end -}}

{{/*
Environment of the audit CronJob: each shard's auditDsnSecret (a read-only role), or
the server's dsnSecret, and nothing else: no token, no region, peer or seal secret,
no Kafka password.
*/}}
{{- define "wallet.auditEnv" -}}
{{- range .Values.shards }}
{{- $secret := get . "auditDsnSecret" | default .dsnSecret }}
- name: WALLET_SHARDS__{{ upper .name }}__DSN
  valueFrom:
    secretKeyRef:
      name: {{ $secret.name | quote }}
      key: {{ get $secret "key" | default "dsn" | quote }}
{{- end }}
- name: GOMEMLIMIT
  valueFrom:
    resourceFieldRef:
      resource: limits.memory
{{- end -}}

{{/*
One egress rule to a destination of networkPolicy.egress: every port of .dest.ports,
for each protocol in .protocols, to the peers of .dest.to.
*/}}
{{- define "wallet.egressRule" -}}
- to:
    {{- toYaml .dest.to | nindent 4 }}
  ports:
    {{- range .dest.ports }}
    {{- $port := int . }}
    {{- range $.protocols }}
    - port: {{ $port }}
      protocol: {{ . }}
    {{- end }}
    {{- end }}
{{- end -}}

{{/* Egress rule for DNS lookups (UDP and TCP), used by every pod of the chart. */}}
{{- define "wallet.egressDNS" -}}
{{- include "wallet.egressRule" (dict "dest" .Values.networkPolicy.egress.dns "protocols" (list "UDP" "TCP")) -}}
{{- end -}}

{{/* Egress rule to the region's PostgreSQL shards, used by the server and the migration Job. */}}
{{- define "wallet.egressPostgreSQL" -}}
{{- include "wallet.egressRule" (dict "dest" .Values.networkPolicy.egress.postgresql "protocols" (list "TCP")) -}}
{{- end -}}

{{/*
A broker or peer on a port the egress policy does not open would be unreachable once
deployed and fail only at run time; refuse to render instead. A peer URL's port is
its explicit port, else 443 (peers are https only).
*/}}
{{- define "wallet.validateEgress" -}}
{{- $egress := .Values.networkPolicy.egress -}}
{{- if and .Values.networkPolicy.enabled $egress.enabled -}}
{{- $kafkaPorts := list -}}
{{- range $egress.kafka.ports }}{{ $kafkaPorts = append $kafkaPorts (int .) }}{{ end -}}
{{- range .Values.kafka.brokers -}}
{{- $port := int (regexFind "[0-9]+$" .) -}}
{{- if not (has $port $kafkaPorts) -}}
{{- fail (printf "networkPolicy.egress.kafka.ports does not open port %d of broker %s" $port .) -}}
{{- end -}}
{{- end -}}
{{- $peerPorts := list -}}
{{- range $egress.peers.ports }}{{ $peerPorts = append $peerPorts (int .) }}{{ end -}}
{{- range .Values.peers -}}
{{- $u := urlParse .url -}}
{{- $port := 443 -}}
{{- if regexMatch ":[0-9]+$" $u.host -}}
{{- $port = int (regexFind "[0-9]+$" $u.host) -}}
{{- end -}}
{{- if not (has $port $peerPorts) -}}
{{- fail (printf "networkPolicy.egress.peers.ports does not open port %d of peer %s (%s)" $port .name .url) -}}
{{- end -}}
{{- end -}}
{{- with .Values.tracing.otlpEndpoint -}}
{{- $u := urlParse . -}}
{{- $port := ternary 443 80 (eq $u.scheme "https") -}}
{{- if regexMatch ":[0-9]+$" $u.host -}}
{{- $port = int (regexFind "[0-9]+$" $u.host) -}}
{{- end -}}
{{- $tracingPorts := list -}}
{{- range $egress.tracing.ports }}{{ $tracingPorts = append $tracingPorts (int .) }}{{ end -}}
{{- if not (has $port $tracingPorts) -}}
{{- fail (printf "networkPolicy.egress.tracing.ports does not open port %d of tracing.otlpEndpoint %s" $port .) -}}
{{- end -}}
{{- end -}}
{{- end -}}
{{- end -}}

{{/* Pod-level scheduling knobs shared by server and migration pods. */}}
{{- define "wallet.podScheduling" -}}
{{- with .Values.nodeSelector }}
nodeSelector:
  {{- toYaml . | nindent 2 }}
{{- end }}
{{- with .Values.tolerations }}
tolerations:
  {{- toYaml . | nindent 2 }}
{{- end }}
{{- with .Values.imagePullSecrets }}
imagePullSecrets:
  {{- toYaml . | nindent 2 }}
{{- end }}
{{- end -}}
