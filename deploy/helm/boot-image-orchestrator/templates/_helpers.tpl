{{- define "orchestrator.labels" -}}
app.kubernetes.io/name: {{ .Chart.Name }}
app.kubernetes.io/instance: {{ .Release.Name }}
app.kubernetes.io/component: orchestrator-worker
{{- end -}}


{{/* The labels of one version's pods: the release's, and the build they run. */}}
{{- define "orchestrator.versionLabels" -}}
{{ include "orchestrator.labels" .root }}
app.kubernetes.io/version: {{ .version.buildId | quote }}
{{- end -}}

{{/* Exactly one version is current: new workflows go to it. */}}
{{- define "orchestrator.checkVersions" -}}
{{- $current := 0 -}}
{{- range .Values.versions -}}
{{- if not .buildId }}{{ fail "every entry of versions needs a buildId" }}{{ end -}}
{{- if .current }}{{ $current = add1 $current }}{{ end -}}
{{- end -}}
{{- if ne $current 1 }}{{ fail "exactly one entry of versions must be current: true" }}{{ end -}}
{{- end -}}
