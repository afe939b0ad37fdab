// sparseloco: to be written
@compute @workgroup_size(1) fn placeholder() {}
