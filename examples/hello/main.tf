# A configuration that needs no provider download: built-in terraform_data resources whose
# local-exec provisioners print lines, a sensitive input and sensitive outputs.

terraform {
  required_version = ">= 1.4"
}

variable "greeting" {
  description = "Printed by the first resource and returned as an output."
  type        = string
  default     = "Hello from Outpost"
}

variable "lines" {
  description = "How many numbered lines the resources print in all."
  type        = number
  default     = 5
}

variable "api_token" {
  description = "A secret: Outpost masks it in every log line and returns it only as a sensitive output."
  type        = string
  sensitive   = true
}

variable "gate" {
  description = "When set, the second resource waits for this file (relative to the configuration) before printing; the tests use it to prove that logs stream while Terraform runs."
  type        = string
  default     = ""
}

resource "terraform_data" "first" {
  input = var.greeting

  provisioner "local-exec" {
    command = "echo 'line 1: ${var.greeting}'"
  }
}

resource "terraform_data" "second" {
  depends_on = [terraform_data.first]
  input      = var.lines

  provisioner "local-exec" {
    command = <<-EOT
      if [ -n "$GATE" ]; then
        waited=0
        while [ ! -e "$GATE" ]; do
          waited=$((waited + 1))
          if [ "$waited" -gt 1200 ]; then echo "the gate file never appeared" >&2; exit 1; fi
          sleep 0.05
        done
      fi
      i=2
      while [ "$i" -le "$LINES" ]; do echo "line $i"; i=$((i + 1)); done
    EOT
    environment = {
      GATE  = var.gate == "" ? "" : "${path.module}/${var.gate}"
      LINES = var.lines
    }
  }
}

output "greeting" {
  value = terraform_data.first.output
}

output "lines_printed" {
  value = terraform_data.second.output
}

output "api_token" {
  value     = var.api_token
  sensitive = true
}
