{{/*
Names and labels shared by every template.
*/}}

{{/* The prefix of every object's name: <release>-toolfleet, or the release name alone when it
already says toolfleet; at most 63 characters (a DNS label). */}}
{{- define "toolfleet.fullname" -}}
{{- if .Values.fullnameOverride -}}
{{- .Values.fullnameOverride | trunc 63 | trimSuffix "-" -}}
{{- else if contains "toolfleet" .Release.Name -}}
{{- .Release.Name | trunc 63 | trimSuffix "-" -}}
{{- else -}}
{{- printf "%s-toolfleet" .Release.Name | trunc 63 | trimSuffix "-" -}}
{{- end -}}
{{- end -}}

{{/* Labels of every object. app.kubernetes.io/name stays "toolfleet": the NetworkPolicies the
operator writes for each ToolService admit the operator's pods by it. */}}
{{- define "toolfleet.labels" -}}
helm.sh/chart: {{ printf "%s-%s" .Chart.Name .Chart.Version | replace "+" "_" }}
app.kubernetes.io/name: toolfleet
app.kubernetes.io/instance: {{ .Release.Name }}
app.kubernetes.io/version: {{ .Chart.AppVersion | quote }}
app.kubernetes.io/managed-by: {{ .Release.Service }}
app.kubernetes.io/part-of: toolfleet
{{- end -}}

{{/* Labels that select the operator's pods (also matched by ToolService NetworkPolicies). */}}
{{- define "toolfleet.selectorLabels" -}}
app.kubernetes.io/name: toolfleet
app.kubernetes.io/instance: {{ .Release.Name }}
app.kubernetes.io/component: operator
{{- end -}}

{{- define "toolfleet.serviceAccountName" -}}
{{- if .Values.serviceAccount.create -}}
{{- default (include "toolfleet.fullname" .) .Values.serviceAccount.name -}}
{{- else -}}
{{- required "serviceAccount.name is required when serviceAccount.create is false" .Values.serviceAccount.name -}}
{{- end -}}
{{- end -}}

{{/* The operator image: a digest wins over a tag; the tag defaults to the chart's appVersion. */}}
{{- define "toolfleet.image" -}}
{{- if .Values.image.digest -}}
{{- printf "%s@%s" .Values.image.repository .Values.image.digest -}}
{{- else -}}
{{- printf "%s:%s" .Values.image.repository (default .Chart.AppVersion .Values.image.tag) -}}
{{- end -}}
{{- end -}}

{{- define "toolfleet.peeringName" -}}
{{- default (include "toolfleet.fullname" .) .Values.peering.name -}}
{{- end -}}

{{- define "toolfleet.webhookServiceName" -}}
{{- printf "%s-webhook" (include "toolfleet.fullname" .) | trunc 63 | trimSuffix "-" -}}
{{- end -}}

{{/* The gateway's objects: Deployment, Service, ServiceAccount, HPA, PDB, RBAC. */}}
{{- define "toolfleet.gatewayName" -}}
{{- printf "%s-gateway" (include "toolfleet.fullname" .) | trunc 63 | trimSuffix "-" -}}
{{- end -}}

{{/* Labels that select the gateway's pods; its component keeps them apart from the operator's. */}}
{{- define "toolfleet.gatewaySelectorLabels" -}}
app.kubernetes.io/name: toolfleet
app.kubernetes.io/instance: {{ .Release.Name }}
app.kubernetes.io/component: gateway
{{- end -}}

{{- define "toolfleet.gatewayServiceAccountName" -}}
{{- if .Values.gateway.serviceAccount.create -}}
{{- default (include "toolfleet.gatewayName" .) .Values.gateway.serviceAccount.name -}}
{{- else -}}
{{- required "gateway.serviceAccount.name is required when gateway.serviceAccount.create is false" .Values.gateway.serviceAccount.name -}}
{{- end -}}
{{- end -}}

{{/* The gateway's in-cluster base URL, which the operator puts into every catalog. */}}
{{- define "toolfleet.gatewayURL" -}}
{{- $port := int .Values.gateway.service.port -}}
{{- printf "http://%s.%s.svc.%s" (include "toolfleet.gatewayName" .) .Release.Namespace .Values.settings.clusterDomain -}}
{{- if ne $port 80 }}:{{ $port }}{{ end -}}
{{- end -}}

{{/* The ClusterRole that lets its subjects call the built-in `default` catalog. */}}
{{- define "toolfleet.defaultCatalogCallerName" -}}
{{- printf "%s-catalog-default-caller" (include "toolfleet.fullname" .) -}}
{{- end -}}
