{#- RabbitMQ member (controllers and the witness, salt/roles.yaml): the
    configuration and the Erlang cookie go in BEFORE the package, whose
    postinst starts the service at once; then the service, the join to the
    seed, and the cluster-wide users and policies. #}
include:
  - rabbitmq.config
  - rabbitmq.package
  - rabbitmq.service
  - rabbitmq.cluster
