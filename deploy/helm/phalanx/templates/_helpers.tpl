{{/*
Names. The release name is the prefix of every object; a release named "phalanx" (the default of
the rendered manifests) gives phalanx-kubelet-plugin, phalanx-scheduler and phalanx-webhook.
*/}}
{{- define "phalanx.fullname" -}}
{{- if contains "phalanx" .Release.Name -}}
{{- .Release.Name | trunc 40 | trimSuffix "-" -}}
{{- else -}}
{{- printf "%s-phalanx" .Release.Name | trunc 40 | trimSuffix "-" -}}
{{- end -}}
{{- end -}}

{{- define "phalanx.pluginName" -}}{{ include "phalanx.fullname" . }}-kubelet-plugin{{- end -}}
{{- define "phalanx.schedulerName" -}}{{ include "phalanx.fullname" . }}-scheduler{{- end -}}
{{- define "phalanx.webhookName" -}}{{ include "phalanx.fullname" . }}-webhook{{- end -}}

{{/* The TLS Secret the webhook mounts: cert-manager writes it, or the user provides it. */}}
{{- define "phalanx.webhookSecret" -}}
{{- if eq .Values.webhook.tls.mode "secret" -}}
{{- required "webhook.tls.secretName is required when webhook.tls.mode is secret: name the Secret (type kubernetes.io/tls) that holds the webhook's serving certificate" .Values.webhook.tls.secretName -}}
{{- else -}}
{{- include "phalanx.webhookName" . }}-tls
{{- end -}}
{{- end -}}

{{- define "phalanx.image" -}}
{{- printf "%s:%s" .Values.image.repository (default .Chart.AppVersion .Values.image.tag) -}}
{{- end -}}

{{/*
Labels of every object. Call with (dict "ctx" $ "component" "webhook").
*/}}
{{- define "phalanx.labels" -}}
app.kubernetes.io/name: {{ include "phalanx.fullname" .ctx }}-{{ .component }}
app.kubernetes.io/instance: {{ .ctx.Release.Name }}
app.kubernetes.io/component: {{ .component }}
app.kubernetes.io/part-of: phalanx
app.kubernetes.io/version: {{ .ctx.Chart.AppVersion | quote }}
app.kubernetes.io/managed-by: {{ .ctx.Release.Service }}
helm.sh/chart: {{ printf "%s-%s" .ctx.Chart.Name .ctx.Chart.Version }}
{{- with .ctx.Values.commonLabels }}
{{ toYaml . }}
{{- end }}
{{- end -}}

{{/* Selector labels of a component's pods; never change on upgrade. */}}
{{- define "phalanx.selectorLabels" -}}
app.kubernetes.io/name: {{ include "phalanx.fullname" .ctx }}-{{ .component }}
app.kubernetes.io/instance: {{ .ctx.Release.Name }}
{{- end -}}

{{/* The restricted container securityContext of the scheduler and the webhook. */}}
{{- define "phalanx.restrictedSecurityContext" -}}
allowPrivilegeEscalation: false
readOnlyRootFilesystem: true
runAsNonRoot: true
runAsUser: 65532
runAsGroup: 65532
capabilities:
  drop: ["ALL"]
seccompProfile:
  type: RuntimeDefault
{{- end -}}

{{/* The URL kube-scheduler calls: the pod-local extender (second scheduler) or the Service. */}}
{{- define "phalanx.extenderURL" -}}
{{- $s := .Values.scheduler -}}
{{- if eq $s.shape "secondScheduler" -}}
http://127.0.0.1:{{ $s.extenderPort }}{{ $s.urlPrefix }}
{{- else if $s.service.clusterIP -}}
http://{{ $s.service.clusterIP }}:{{ $s.extenderPort }}{{ $s.urlPrefix }}
{{- else -}}
http://{{ include "phalanx.schedulerName" . }}.{{ .Release.Namespace }}.svc:{{ $s.extenderPort }}{{ $s.urlPrefix }}
{{- end -}}
{{- end -}}

{{/* The extenders list of a KubeSchedulerConfiguration. */}}
{{- define "phalanx.extenders" -}}
{{- $e := .Values.scheduler.extenderEntry -}}
extenders:
  - urlPrefix: {{ include "phalanx.extenderURL" . }}
    filterVerb: filter
    prioritizeVerb: prioritize
    preemptVerb: preempt
    # Each extender point counts x10 on the framework's 0..100 scale and the default score
    # plugins add up to about 1200: weight 20 lets the planned node and topology packing win.
    weight: {{ $e.weight }}
    # Node names only; the extender keeps its own informer cache.
    nodeCacheCapable: true
    # Safe to skip when unreachable: gated pods are invisible to the scheduler until planned,
    # and planned pods carry a required node affinity to their node.
    ignorable: {{ $e.ignorable }}
    httpTimeout: {{ $e.httpTimeout }}
{{- end -}}

{{/* Pod placement values (nodeSelector, tolerations, affinity) of one component. */}}
{{- define "phalanx.placement" -}}
{{- with .nodeSelector }}
nodeSelector:
  {{- toYaml . | nindent 2 }}
{{- end }}
{{- with .tolerations }}
tolerations:
  {{- toYaml . | nindent 2 }}
{{- end }}
{{- with .affinity }}
affinity:
  {{- toYaml . | nindent 2 }}
{{- end }}
{{- end -}}

{{/* clientConfig of one webhook. Call with (dict "ctx" $ "path" "/mutate/pods"). */}}
{{- define "phalanx.webhookClientConfig" -}}
clientConfig:
  service:
    name: {{ include "phalanx.webhookName" .ctx }}
    namespace: {{ .ctx.Release.Namespace }}
    path: {{ .path }}
    port: 443
  {{- if eq .ctx.Values.webhook.tls.mode "secret" }}
  caBundle: {{ required "webhook.tls.caBundle is required when webhook.tls.mode is secret: set it to the base64 PEM of the CA that signed the Secret's certificate" .ctx.Values.webhook.tls.caBundle }}
  {{- else }}
  # caBundle: written by cert-manager's CA injector (annotation cert-manager.io/inject-ca-from)
  {{- end }}
{{- end -}}
