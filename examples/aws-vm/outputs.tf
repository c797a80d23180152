output "vpc_id" {
  value = aws_vpc.main.id
}

output "instance_id" {
  value = aws_instance.vm.id
}

output "private_ip" {
  value = aws_instance.vm.private_ip
}
