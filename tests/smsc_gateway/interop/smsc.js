// An SMSC written with the npm "smpp" package (an SMPP implementation independent of ours and of
// smpplib): binds one account, answers submit_sm with hexadecimal ids, sends a receipt per message
// (TLVs and text) and mobile-originated messages on request. Prints "listening <port>" when ready.
// A submit_sm to RESTART_NUMBER is answered, then the SMSC "restarts": its id counter starts again from
// FIRST_ID and every connection is closed, as a real one's would be (ids are then reused). Destinations
// ending in "77" are receipted UNDELIV, the rest DELIVRD.
// A phone that answers (a call-out's member): a submit_sm to 4869955xxxxx is answered by an MO "Tak, jade" from
// that phone, to 4869966xxxxx by "nie moge" — as a person replying to the SMS they just got.
// A bind with system_type "burst" gets a burst of throttling: its 21st to 60th submit_sm are
// refused with ESME_RTHROTTLED, as an operator's SMSC does when its queue toward the network fills.
const smpp = require('smpp');

const FIRST_ID = 0xA0000;
const RESTART_NUMBER = '48699999999';
let next = FIRST_ID;
const sessions = new Set();
const server = smpp.createServer(function (session) {
  sessions.add(session);
  session.on('close', function () { sessions.delete(session); session.closed = true; });
  let submits = 0, throttleBurst = false;
  session.on('bind_transceiver', function (pdu) {
    session.pause();
    if (pdu.system_id !== 'syrena' || pdu.password !== 'secret') {
      session.send(pdu.response({ command_status: smpp.ESME_RBINDFAIL }));
      session.close();
      return;
    }
    throttleBurst = pdu.system_type === 'burst';
    session.send(pdu.response({ system_id: 'NODESMSC' }));
    session.resume();
    session.deliver_sm({ source_addr: '48601999000', source_addr_ton: 1, destination_addr: '4800',
                         short_message: 'HELP' });
  });
  session.on('submit_sm', function (pdu) {
    submits++;
    if (throttleBurst && submits > 20 && submits <= 60) {
      session.send(pdu.response({ command_status: smpp.ESME_RTHROTTLED }));
      return;
    }
    const id = (next++).toString(16).toUpperCase();
    session.send(pdu.response({ message_id: id }));
    const undeliverable = pdu.destination_addr.endsWith('77');
    if (pdu.registered_delivery) {
      setTimeout(function () {
        if (session.closed) { return; }
        session.deliver_sm({
          source_addr: pdu.destination_addr, destination_addr: pdu.source_addr, esm_class: 4,
          short_message: 'id:' + id + ' sub:001 dlvrd:001 submit date:2611290000 done date:2611290001 ' +
                         'stat:' + (undeliverable ? 'UNDELIV err:001' : 'DELIVRD err:000') + ' text:',
          receipted_message_id: id, message_state: undeliverable ? 5 : 2,
        });
      }, 20);
    }
    const answer = pdu.destination_addr.startsWith('4869955') ? 'Tak, jade'
      : pdu.destination_addr.startsWith('4869966') ? 'nie moge' : null;
    if (answer) {
      setTimeout(function () {
        if (session.closed) { return; }
        session.deliver_sm({ source_addr: pdu.destination_addr, source_addr_ton: 1, destination_addr: '4800',
                             short_message: answer });
      }, 100);
    }
    if (pdu.destination_addr === RESTART_NUMBER) {
      next = FIRST_ID;
      setTimeout(function () { sessions.forEach(function (s) { s.close(); }); }, 200);
    }
  });
  session.on('enquire_link', function (pdu) { session.send(pdu.response()); });
  session.on('unbind', function (pdu) { session.send(pdu.response()); session.close(); });
  session.on('error', function () {});
});
server.listen(0, '127.0.0.1', function () { console.log('listening ' + server.address().port); });
process.on('SIGTERM', function () { process.exit(0); });
