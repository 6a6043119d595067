#pragma once
#include <httplib.h>

#include "pweb/registrar/service.hpp"

namespace pweb::rest {
void register_device_routes(httplib::Server& srv, registrar::RegistrationService& service);
}
