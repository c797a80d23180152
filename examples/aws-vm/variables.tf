variable "region" {
  description = "AWS region; the subnet goes into its zone \"a\"."
  type        = string
  default     = "eu-west-1"
}

variable "cidr" {
  description = "The VPC's address range; the subnet is its 8-bit sub-range number 1."
  type        = string
  default     = "10.42.0.0/16"
}

variable "instance_type" {
  description = "EC2 instance type of the VM."
  type        = string
  default     = "t3.micro"
}

variable "ami" {
  description = "A literal AMI id (no data source: nothing may be looked up)."
  type        = string
  default     = "ami-0123456789abcdef0"
}

variable "name" {
  description = "Prefix of every resource's Name tag."
  type        = string
  default     = "outpost-demo"
}

variable "ssh_from" {
  description = "CIDR allowed to reach port 22."
  type        = string
  default     = "192.0.2.0/24"
}

variable "endpoint" {
  description = "Every AWS API endpoint. The default is an unused loopback port, so that nothing ever leaves the machine; only change it to reach a real (or emulated) AWS on purpose."
  type        = string
  default     = "http://127.0.0.1:1"
}
