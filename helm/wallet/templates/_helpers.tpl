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
that cover 0..buckets-1 exactly, no peer named like this region.
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
{{- range .Values.peers -}}
{{- if eq .name $.Values.region -}}
{{- fail (printf "peers: %q is this release's own region" .name) -}}
{{- end -}}
{{- end -}}
{{- end -}}

{{/* wallet.yaml, the binary's config file. Contains no secrets. */}}
{{- define "wallet.config" -}}
{{- include "wallet.validate" . -}}
region: {{ .Values.region | quote }}
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
database:
  app_role: {{ .Values.database.appRole | quote }}
log:
  level: {{ .Values.log.level | quote }}
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
- name: WALLET_AUTH__REGION_TOKEN
  valueFrom:
    secretKeyRef:
      name: {{ .Values.auth.regionTokenSecret.name | quote }}
      key: {{ .Values.auth.regionTokenSecret.key | quote }}
- name: GOMEMLIMIT
  valueFrom:
    resourceFieldRef:
      resource: limits.memory
{{- end -}}

{{/*
Environment of the migration Job: the owners' DSNs and nothing else. It never holds
the server's DSNs or the region and gateway tokens.
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
its explicit port, else 443 for https and 80 for http.
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
{{- $port := 80 -}}
{{- if regexMatch ":[0-9]+$" $u.host -}}
{{- $port = int (regexFind "[0-9]+$" $u.host) -}}
{{- else if eq $u.scheme "https" -}}
{{- $port = 443 -}}
{{- end -}}
{{- if not (has $port $peerPorts) -}}
{{- fail (printf "networkPolicy.egress.peers.ports does not open port %d of peer %s (%s)" $port .name .url) -}}
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
