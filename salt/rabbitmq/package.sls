{#- The package's postinst starts rabbitmq-server at once: rabbitmq.config
    has already put the cookie and the configuration in place, and the
    postinst keeps an existing cookie. #}
{%- from 'rabbitmq/map.jinja' import rabbitmq with context %}

include:
  - rabbitmq.config

rabbitmq-package-installed:
  pkg.installed:
    - pkgs: {{ rabbitmq.pkgs | json }}
    - require:
      - sls: rabbitmq.config
