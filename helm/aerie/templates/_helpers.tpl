{{/* The five components, in the order they are rendered. */}}
{{- define "aerie.components" -}}
gateway tenant auth flow execution
{{- end }}

{{/* Components with a database of their own. */}}
{{- define "aerie.databaseComponents" -}}
tenant auth flow execution
{{- end }}

{{- define "aerie.name" -}}
{{- default .Chart.Name .Values.nameOverride | trunc 63 | trimSuffix "-" }}
{{- end }}

{{- define "aerie.fullname" -}}
{{- if .Values.fullnameOverride }}
{{- .Values.fullnameOverride | trunc 63 | trimSuffix "-" }}
{{- else if contains (include "aerie.name" .) .Release.Name }}
{{- .Release.Name | trunc 63 | trimSuffix "-" }}
{{- else }}
{{- printf "%s-%s" .Release.Name (include "aerie.name" .) | trunc 63 | trimSuffix "-" }}
{{- end }}
{{- end }}

{{/* Name of one component's objects: <fullname>-<component>. */}}
{{- define "aerie.componentName" -}}
{{- printf "%s-%s" (include "aerie.fullname" .root) .component | trunc 63 | trimSuffix "-" }}
{{- end }}

{{- define "aerie.labels" -}}
helm.sh/chart: {{ printf "%s-%s" .Chart.Name .Chart.Version | replace "+" "_" }}
app.kubernetes.io/name: {{ include "aerie.name" . }}
app.kubernetes.io/instance: {{ .Release.Name }}
app.kubernetes.io/version: {{ .Chart.AppVersion | quote }}
app.kubernetes.io/managed-by: {{ .Release.Service }}
app.kubernetes.io/part-of: aerie
{{- end }}

{{/* Selector labels of one component; `.root` is the chart context. */}}
{{- define "aerie.selectorLabels" -}}
app.kubernetes.io/name: {{ include "aerie.name" .root }}
app.kubernetes.io/instance: {{ .root.Release.Name }}
app.kubernetes.io/component: {{ .component }}
{{- end }}

{{- define "aerie.serviceAccountName" -}}
{{- if .Values.serviceAccount.create }}
{{- default (include "aerie.fullname" .) .Values.serviceAccount.name }}
{{- else }}
{{- default "default" .Values.serviceAccount.name }}
{{- end }}
{{- end }}

{{- define "aerie.image" -}}
{{- printf "%s:%s" .Values.image.repository (default .Chart.AppVersion .Values.image.tag) }}
{{- end }}

{{/* The Secret holding the credentials. */}}
{{- define "aerie.securitySecret" -}}
{{- default (printf "%s-security" (include "aerie.fullname" .)) .Values.security.existingSecret }}
{{- end }}

{{- define "aerie.databaseSecret" -}}
{{- default (printf "%s-database" (include "aerie.fullname" .)) .Values.postgresql.existingSecret }}
{{- end }}

{{- define "aerie.s3Secret" -}}
{{- default (printf "%s-s3" (include "aerie.fullname" .)) .Values.storage.s3.existingSecret }}
{{- end }}

{{/* Whether S3 credentials come from a Secret (else the pod's AWS identity). */}}
{{- define "aerie.s3Credentials" -}}
{{- if or .Values.storage.s3.existingSecret .Values.storage.s3.accessKeyId }}true{{ end }}
{{- end }}

{{/*
A value kept across upgrades: the one given, else the one already stored in
the release's Secret, else `generated`.
*/}}
{{- define "aerie.kept" -}}
{{- $given := .given -}}
{{- if $given }}{{ $given }}{{- else }}
{{- $existing := lookup "v1" "Secret" .root.Release.Namespace .secret -}}
{{- if and $existing (index $existing.data .key) }}{{ index $existing.data .key | b64dec }}{{ else }}{{ .generated }}{{ end }}
{{- end }}
{{- end }}
